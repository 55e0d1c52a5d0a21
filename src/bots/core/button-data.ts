import { messageFor } from './messages.js';
import type { Button } from './reply.js';
import { COMMANDS, type CommandName } from './request.js';

/** A pressed button, decoded: the command, what it acts on, and who may press it. */
export interface ButtonPress {
  command: CommandName;
  target?: string;
  /** The platform user the button belongs to; others are turned away without a lookup. */
  owner?: string;
}

/** How a platform carries button data: an optional prefix (`lk` on Discord) and its size limit in bytes. */
export interface ButtonDataFormat {
  prefix?: string;
  maxBytes: number;
}

/**
 * `[prefix|]command|target|owner`: a uuid target and a user id fit Telegram's 64 bytes and
 * Discord's 100. When the owner does not fit, it is left out; the command layer still checks
 * ownership.
 */
export function encodeButtonData(button: Pick<Button, 'command' | 'target'>, owner: string | undefined, format: ButtonDataFormat): string {
  const head = format.prefix ? [format.prefix] : [];
  const data = [...head, button.command, button.target ?? '', owner ?? ''].join('|');
  return Buffer.byteLength(data) <= format.maxBytes ? data : [...head, button.command, button.target ?? '', ''].join('|');
}

/** Pure: button data back to a press, or undefined for data we did not make (or an older release's unknown command). */
export function decodeButtonData(data: string | undefined, format: ButtonDataFormat): ButtonPress | undefined {
  const parts = (data ?? '').split('|');
  if (format.prefix && parts.shift() !== format.prefix) return undefined;
  const [command, target, owner] = parts;
  if (!command || !(COMMANDS as readonly string[]).includes(command)) return undefined;
  return { command: command as CommandName, target: target || undefined, owner: owner || undefined };
}

export const STALE_BUTTON_TEXT = 'That button no longer works. Please run the command again.';

/** What a press of one of our buttons asks for, decided from its data alone, before any lookup. */
export type PressDecision =
  /** Someone else's button, or one we cannot read: a short notice to the presser is the whole answer. */
  | { kind: 'notice'; text: string; press?: ButtonPress }
  /** A one-time question (the terms, "delete everything?"): answered on the message it sits on. */
  | { kind: 'in-place'; press: ButtonPress }
  /** Work or a question of its own: its own answer. */
  | { kind: 'answer'; press: ButtonPress };

/** Pure: the decision for a press of `data` by `presser`, the same on every platform. */
export function decidePress(data: string | undefined, presser: string, format: ButtonDataFormat): PressDecision {
  const press = decodeButtonData(data, format);
  if (!press) return { kind: 'notice', text: STALE_BUTTON_TEXT };
  if (press.owner && press.owner !== presser) return { kind: 'notice', text: messageFor('NOT_YOURS'), press };
  return { kind: press.command === 'consent' || press.command === 'forget' ? 'in-place' : 'answer', press };
}
