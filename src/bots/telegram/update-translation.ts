import type { InlineKeyboardMarkup, Message, ReactionType } from 'grammy/types';
import type { Conversation } from '../../db/schema.js';
import { SUBJECTS } from '../../gpu/styles.js';
import type { Button } from '../core/reply.js';
import { COMMANDS, type CommandName } from '../core/request.js';

/**
 * Pure translation between Telegram's shapes and the command layer's: command text, options,
 * file references, reactions, button payloads and message keys. No I/O here.
 */

/** A `/command@bot args` found at the start of a message's text or a photo's caption. */
export interface ParsedCommand {
  /** Lower-cased, without the slash. */
  name: string;
  /** The `@bot` part, when the command named a bot. */
  mention?: string;
  /** Everything after the command, trimmed. */
  args: string;
}

const COMMAND = /^\/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,64}))?(?:\s+([\s\S]*))?$/;

/** Reads a leading bot command from text or a caption (grammY's `bot.command()` ignores captions, so this reads both). */
export function parseCommand(text: string | undefined): ParsedCommand | undefined {
  const match = COMMAND.exec(text?.trim() ?? '');
  if (!match) return undefined;
  return { name: match[1]!.toLowerCase(), mention: match[2], args: (match[3] ?? '').trim() };
}

/** Commands without `@bot` reach every bot in a group; with it, only the one named. */
export function isForBot(command: ParsedCommand, botUsername: string): boolean {
  return !command.mention || command.mention.toLowerCase() === botUsername.toLowerCase();
}

/** The Telegram command names people type, mapped to the command layer's. */
export const TELEGRAM_COMMANDS: Readonly<Record<string, CommandName>> = {
  start: 'start',
  portrait: 'portrait',
  restore: 'restore',
  styles: 'styles',
  credits: 'credits',
  history: 'history',
  cancel: 'cancel',
  forget: 'forget',
  help: 'help',
  admin: 'admin',
  link: 'link',
};

/** The menu set with `setMyCommands` (admin stays off it). */
export const COMMAND_MENU = [
  { command: 'portrait', description: 'Send 1–4 photos with this caption: /portrait [style] [prompt]' },
  { command: 'restore', description: 'Send an old photo with this caption: /restore [colorize]' },
  { command: 'styles', description: 'The styles you can ask for' },
  { command: 'credits', description: 'Your balance and free credits left today' },
  { command: 'history', description: 'Your recent requests' },
  { command: 'cancel', description: 'Stop your requests in progress (refunded)' },
  { command: 'forget', description: 'Delete every photo, result and record of you' },
  { command: 'link', description: 'One account for Telegram and Discord: /link, or /link CODE' },
  { command: 'help', description: 'What I can do' },
  { command: 'start', description: 'The terms and a short guide' },
] as const;

/** Commands that take photos and queue GPU work. */
export const PHOTO_COMMANDS = new Set<CommandName>(['portrait', 'restore']);

/** `/portrait [me|someone|memorial] [style] [seed:N] [prompt…]` → options for the command layer. */
export function portraitOptionsFromArgs(args: string, isStyle: (id: string) => boolean): Record<string, string | undefined> {
  const words = args.split(/\s+/).filter(Boolean);
  const options: Record<string, string | undefined> = {};
  let used = 0;
  for (const word of words) {
    const lower = word.toLowerCase();
    const seed = /^seed[:=](\d+)$/.exec(lower);
    if (!options.subject && (SUBJECTS as readonly string[]).includes(lower)) options.subject = lower;
    else if (!options.style && isStyle(lower)) options.style = lower;
    else if (!options.seed && seed) options.seed = seed[1];
    else break;
    used += 1;
  }
  const prompt = words.slice(used).join(' ');
  if (prompt) options.prompt = prompt;
  return options;
}

/** `/restore colorize` (or colourise, color…) asks for colour. */
export function restoreOptionsFromArgs(args: string): Record<string, boolean> {
  return { colorize: /\bcolou?ri[sz]e\b|\bcolou?r\b/i.test(args) };
}

/** A photo or file attached to a message, as Telegram names it. */
export interface FileRef {
  fileId: string;
  /** Size announced by Telegram, when it did. */
  size?: number;
  kind: 'photo' | 'document';
  fileName?: string;
}

/**
 * The photo of a message (its largest size) or its file, for photos sent uncompressed as
 * documents. Any document counts: whether it is an image is decided by its bytes, not its name.
 */
export function fileRefOf(message: Pick<Message, 'photo' | 'document'> | undefined): FileRef | undefined {
  const largest = message?.photo?.reduce((best, size) => (size.width * size.height > best.width * best.height ? size : best));
  if (largest) return { fileId: largest.file_id, size: largest.file_size, kind: 'photo' };
  const doc = message?.document;
  if (doc) return { fileId: doc.file_id, size: doc.file_size, kind: 'document', fileName: doc.file_name };
  return undefined;
}

/** Where to answer a message: its chat, replying to it, in its forum topic if it has one. */
export function conversationOf(message: Pick<Message, 'chat' | 'message_id' | 'message_thread_id' | 'is_topic_message' | 'from'>): Conversation {
  return {
    platform: 'telegram',
    chatId: String(message.chat.id),
    messageId: String(message.message_id),
    threadId: message.is_topic_message && message.message_thread_id !== undefined ? String(message.message_thread_id) : undefined,
    userId: message.from ? String(message.from.id) : undefined,
  };
}

/** A person's name for the logs and the accounts table: never required, never trusted. */
export function displayNameOf(user: { first_name: string; last_name?: string; username?: string }): string {
  return user.username ? `@${user.username}` : [user.first_name, user.last_name].filter(Boolean).join(' ');
}

/** Reactions that pick a favourite (❤ 🔥 👍 🏆), and the one that says "not them". */
export const UPSCALE_REACTIONS: readonly string[] = ['❤', '🔥', '👍', '🏆'];
export const NOT_THEM_REACTION = '👎';

/** What a reaction change asks for: only a newly added emoji counts; removing one asks nothing. */
export function reactionIntent(oldReaction: readonly ReactionType[], newReaction: readonly ReactionType[]): 'upscale' | 'notthem' | undefined {
  const emojis = (list: readonly ReactionType[]) => list.flatMap((r) => (r.type === 'emoji' ? [r.emoji.replace(/\uFE0F/g, '')] : []));
  const before = new Set(emojis(oldReaction));
  for (const emoji of emojis(newReaction)) {
    if (before.has(emoji)) continue;
    if (UPSCALE_REACTIONS.includes(emoji)) return 'upscale';
    if (emoji === NOT_THEM_REACTION) return 'notthem';
  }
  return undefined;
}

/** How a result's message is recorded (`results.platform_message_id`): Telegram message ids are per chat. */
export const messageKey = (chatId: number | string, messageId: number | string): string => `tg:${chatId}:${messageId}`;

/** Telegram allows at most 64 bytes of callback data. */
const MAX_CALLBACK_BYTES = 64;

/** A pressed button, decoded: the command, what it acts on, and who may press it. */
export interface ButtonPress {
  command: CommandName;
  target?: string;
  /** The Telegram user the button belongs to; others are turned away without a lookup. */
  owner?: string;
}

/** `command|target|owner`: a uuid target and a user id fit well within the 64 bytes. */
export function encodeButton(button: Pick<Button, 'command' | 'target'>, owner?: string): string {
  const data = `${button.command}|${button.target ?? ''}|${owner ?? ''}`;
  if (Buffer.byteLength(data) <= MAX_CALLBACK_BYTES) return data;
  return `${button.command}|${button.target ?? ''}|`; // the command layer still checks ownership
}

export function decodeButton(data: string | undefined): ButtonPress | undefined {
  const [command, target, owner] = (data ?? '').split('|');
  if (!command || !(COMMANDS as readonly string[]).includes(command)) return undefined;
  return { command: command as CommandName, target: target || undefined, owner: owner || undefined };
}

/** Telegram's labels for the command layer's buttons: U1–U4 become ⭐1–⭐4. */
export function buttonLabel(button: Button): string {
  const upscale = /^U(\d)$/.exec(button.label);
  return upscale ? `⭐${upscale[1]}` : button.label;
}

/** The command layer's buttons as an inline keyboard. */
export function inlineKeyboardOf(buttons: Button[][] | undefined, owner?: string): InlineKeyboardMarkup | undefined {
  const rows = (buttons ?? []).filter((row) => row.length > 0);
  if (rows.length === 0) return undefined;
  return { inline_keyboard: rows.map((row) => row.map((b) => ({ text: buttonLabel(b), callback_data: encodeButton(b, owner) }))) };
}
