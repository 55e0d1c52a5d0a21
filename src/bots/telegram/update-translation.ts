import type { InlineKeyboardMarkup, Message, ReactionType } from 'grammy/types';
import { decodeButtonData, encodeButtonData, type ButtonPress } from '../core/button-data.js';
import type { Conversation } from '../core/model.js';
import type { Button } from '../core/reply.js';
import type { ReactionIntent } from '../core/request-life.js';

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
    topicId: message.is_topic_message && message.message_thread_id !== undefined ? String(message.message_thread_id) : undefined,
    ...(message.chat.type === 'private' ? {} : { shared: true }),
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
export function reactionIntent(oldReaction: readonly ReactionType[], newReaction: readonly ReactionType[]): ReactionIntent | undefined {
  const emojis = (list: readonly ReactionType[]) => list.flatMap((r) => (r.type === 'emoji' ? [r.emoji.replace(/\uFE0F/g, '')] : []));
  const before = new Set(emojis(oldReaction));
  for (const emoji of emojis(newReaction)) {
    if (before.has(emoji)) continue;
    if (UPSCALE_REACTIONS.includes(emoji)) return { kind: 'upscale' };
    if (emoji === NOT_THEM_REACTION) return { kind: 'notthem' };
  }
  return undefined;
}

/** How a result's message is recorded (`results.platform_message_id`): Telegram message ids are per chat. */
export const messageKey = (chatId: number | string, messageId: number | string): string => `tg:${chatId}:${messageId}`;

/** Callback data: at most 64 bytes (Bot API, InlineKeyboardButton.callback_data). */
export const BUTTON_DATA = { maxBytes: 64 } as const;

export const encodeButton = (button: Pick<Button, 'command' | 'target'>, owner?: string): string => encodeButtonData(button, owner, BUTTON_DATA);
export const decodeButton = (data: string | undefined): ButtonPress | undefined => decodeButtonData(data, BUTTON_DATA);

/** Telegram's labels for the command layer's buttons: a pick of portrait N reads ⭐N. */
export const buttonLabel = (button: Button): string => (button.variant === undefined ? button.label : `⭐${button.variant + 1}`);

/** The command layer's buttons as an inline keyboard. */
export function inlineKeyboardOf(buttons: Button[][] | undefined, owner?: string): InlineKeyboardMarkup | undefined {
  const rows = (buttons ?? []).filter((row) => row.length > 0);
  if (rows.length === 0) return undefined;
  return { inline_keyboard: rows.map((row) => row.map((b) => ({ text: buttonLabel(b), callback_data: encodeButton(b, owner) }))) };
}

/** In chats where Telegram tells the bot about reactions, they work as well as the buttons. */
export const REACTION_HINT = 'Or react ❤ to a portrait for its 8K version, 👎 if they do not look like the person.';

export const PHOTO_HINT = 'To make portraits, send 1–4 photos with the caption /portrait (optionally a style, e.g. /portrait noir). /help shows everything.';
