import type { ErrorCode } from '../../errors.js';
import type { CommandName } from './request.js';

/** A button: pressing it sends `command` with `target` back through the command layer. */
export interface Button {
  /** The core's words for it; an adapter may label by meaning instead (Telegram's ⭐1 for the first variant). */
  label: string;
  command: CommandName;
  target?: string;
  /** The portrait (0-based) an upscale button picks. */
  variant?: number;
}

/** An image to send; the adapter fetches the bytes from the artifact store and sizes them for its platform. */
export interface ReplyImage {
  artifactKey: string;
  /** The `results` row, so the adapter can remember which message shows it. */
  resultId?: string;
  filename: string;
  /** `document` for files that must not be recompressed (the 8K upscale). */
  as: 'photo' | 'document';
}

/** A platform-neutral answer; adapters render it (Discord embeds and components, Telegram messages and inline keyboards, the CLI's stdout). */
export interface Reply {
  text: string;
  tone: 'info' | 'success' | 'error';
  /** Only the requester should see it, where the platform can do that. */
  ephemeral?: boolean;
  buttons?: Button[][];
  images?: ReplyImage[];
  /** Set when a job was queued (or found queued): the adapter may edit this message as the job moves. */
  job?: { id: string; position: number; etaSeconds: number };
  code?: ErrorCode;
}

export const info = (text: string, extra: Partial<Reply> = {}): Reply => ({ text, tone: 'info', ...extra });
export const success = (text: string, extra: Partial<Reply> = {}): Reply => ({ text, tone: 'success', ...extra });
