import type { Conversation, Platform } from './model.js';

export const COMMANDS = [
  'portrait', 'restore', 'upscale', 'reroll', 'notthem', 'credits', 'history', 'cancel', 'forget', 'styles', 'help', 'consent', 'start', 'admin', 'link',
] as const;
export type CommandName = (typeof COMMANDS)[number];

export type { Platform } from './model.js';

/** Bytes of one photo, fetched on demand so the byte limit is enforced while reading, not after. */
export interface PhotoSource {
  /** How the user would recognise it: a file name or "photo 2". */
  label: string;
  /** Size the platform announced, when it did: lets a too-large file be refused before download. */
  declaredBytes?: number;
  /** How the adapter finds it again (JSON): a request that waits behind the terms card keeps this, not the bytes. */
  ref?: PhotoRef;
  /** Reads the bytes; rejects with FILE_TOO_LARGE as soon as more than `maxBytes` arrive. */
  read(maxBytes: number): Promise<Buffer>;
}

/** An adapter's handle on a photo (a Telegram file id, a Discord attachment URL), plain JSON. */
export type PhotoRef = Record<string, string | number | undefined>;

/** A platform-neutral request: what an adapter makes of a slash command, a caption, a button or a reaction. */
export interface Request {
  platform: Platform;
  /** The platform's own id of the event (Telegram update_id, Discord interaction id): a redelivery makes no second job. */
  eventId: string;
  user: { id: string; displayName?: string };
  conversation: Conversation;
  command: CommandName;
  photos?: PhotoSource[];
  /** Parsed options: style, subject, prompt, colorize, seed, confirm, `args` (the raw words of /admin), … */
  options?: Record<string, string | boolean | undefined>;
  /** What a button or reaction points at: a result id (upscale) or a job id (reroll, notthem). */
  target?: string;
}
