import type { Api, Context } from 'grammy';
import type { Message } from 'grammy/types';
import type { StyleCatalog } from '../../gpu/styles.js';
import type { Logger } from '../../logger.js';
import { takesPhotos, TYPED_COMMANDS } from '../core/command-catalog.js';
import { messageFor } from '../core/messages.js';
import type { Conversation } from '../core/model.js';
import type { RequestLife } from '../core/request-life.js';
import type { Request } from '../core/request.js';
import { optionsFromText } from '../core/text-options.js';
import { decidePress } from '../core/button-data.js';
import { createAlbumGatherer, type AlbumGatherer } from './album-gatherer.js';
import { sendText } from './telegram-chat.js';
import { telegramPhotoSource, type TelegramFileDeps } from './telegram-files.js';
import type { AlbumPart, TelegramState } from './telegram-state.js';
import {
  conversationOf,
  BUTTON_DATA,
  displayNameOf,
  fileRefOf,
  isForBot,
  messageKey,
  parseCommand,
  PHOTO_HINT,
  reactionIntent,
  type ParsedCommand,
} from './update-translation.js';

/**
 * What the Telegram front-end makes of each update: captions, albums, replies, buttons and
 * reactions become requests for the command layer's request life, which answers them. The bot,
 * its runner or webhook, and the chat port are telegram.frontend.ts's.
 */

export interface UpdateHandlerDeps {
  life: RequestLife;
  styles: StyleCatalog;
  api: Api;
  state: TelegramState;
  files: TelegramFileDeps;
  /** The bot's username, once it is known (after start). */
  botUsername: () => string;
  albumQuietMs: number;
  logger: Logger;
}

export interface UpdateHandlers {
  onMessage(ctx: Context & { message: Message }): Promise<void>;
  onCallback(ctx: Context): Promise<void>;
  onReaction(ctx: Context): Promise<void>;
  /** Holds album parts until the album is complete; drained at stop. */
  gatherer: AlbumGatherer;
}

export function createUpdateHandlers(deps: UpdateHandlerDeps): UpdateHandlers {
  const { life, api, logger } = deps;

  /** A command in a message (or an album's caption): `photos` are the messages whose pictures it uses. */
  async function handleCommand(message: Message, parsed: ParsedCommand, eventId: string, photos: readonly Message[]): Promise<void> {
    const command = TYPED_COMMANDS.get(parsed.name);
    if (!command) {
      // In a group an unknown command may be another bot's; answer only when it named us.
      if (message.chat.type === 'private' || parsed.mention) await sendText(api, conversationOf(message), messageFor('UNKNOWN_COMMAND'));
      return;
    }
    const request: Request = {
      platform: 'telegram',
      eventId,
      user: { id: String(message.from!.id), displayName: displayNameOf(message.from!) },
      conversation: conversationOf(message),
      command,
      options: optionsFromText(command, parsed.args, deps.styles),
    };
    if (takesPhotos(command)) {
      // The photos of the message (or album); else those of the message it replies to.
      let files = photos.flatMap((m) => fileRefOf(m) ?? []);
      if (files.length === 0) files = [fileRefOf(message.reply_to_message)].flatMap((f) => f ?? []);
      request.photos = files.map((file, i) => telegramPhotoSource(deps.files, file, `photo ${i + 1}`));
    }
    await life.submit(request);
  }

  async function onMessage(ctx: Context & { message: Message }): Promise<void> {
    const message = ctx.message;
    if (!message.from || message.from.is_bot) return;
    if (message.media_group_id && fileRefOf(message)) {
      await gatherer.add(`${message.chat.id}:${message.media_group_id}`, { updateId: ctx.update.update_id, message });
      return;
    }
    const parsed = parseCommand(message.text ?? message.caption);
    if (!parsed) {
      // In groups the bot hears only what is meant for it; a stray message in private gets a pointer.
      if (message.chat.type === 'private') await sendText(api, conversationOf(message), PHOTO_HINT);
      return;
    }
    if (isForBot(parsed, ctx.me.username)) await handleCommand(message, parsed, String(ctx.update.update_id), [message]);
  }

  /** An album, gathered: one request, whichever photo carries the caption. */
  async function onAlbum(parts: AlbumPart[]): Promise<void> {
    const captioned = parts.find((p) => parseCommand(p.message.caption));
    const message = (captioned ?? parts[0])!.message;
    const parsed = captioned ? parseCommand(message.caption) : undefined;
    if (!parsed) {
      if (message.chat.type === 'private') await sendText(api, conversationOf(message), PHOTO_HINT);
      return;
    }
    if (!isForBot(parsed, deps.botUsername())) return;
    await handleCommand(message, parsed, `album:${message.chat.id}:${message.media_group_id}`, parts.map((p) => p.message));
  }

  async function onCallback(ctx: Context): Promise<void> {
    const query = ctx.callbackQuery!;
    const presser = String(query.from.id);
    const decision = decidePress(query.data, presser, BUTTON_DATA);
    // Answered at once, so the button stops spinning; someone else's (or a stale) button gets a short notice instead.
    if (decision.kind === 'notice') return void (await ctx.answerCallbackQuery({ text: decision.text }));
    await ctx.answerCallbackQuery().catch((error: unknown) => logger.debug({ err: error }, 'callback query not answered'));
    const { press } = decision;
    const message = query.message;
    if (!message) return;
    const topic = 'is_topic_message' in message && message.is_topic_message ? message.message_thread_id : undefined;
    const conversation: Conversation = {
      platform: 'telegram',
      chatId: String(message.chat.id),
      messageId: String(message.message_id),
      ...(topic ? { topicId: String(topic) } : {}),
      ...(message.chat.type === 'private' ? {} : { shared: true }),
      userId: presser,
    };
    const reply = await life.submit({
      platform: 'telegram',
      eventId: String(ctx.update.update_id),
      user: { id: presser, displayName: displayNameOf(query.from) },
      conversation,
      command: press.command,
      target: press.target,
    });
    // A one-time question (the terms, "delete everything?") loses its button once answered.
    if (reply.tone !== 'error' && decision.kind === 'in-place') {
      await api.editMessageReplyMarkup(message.chat.id, message.message_id).catch(() => undefined);
    }
  }

  async function onReaction(ctx: Context): Promise<void> {
    const reaction = ctx.messageReaction!;
    if (!reaction.user || reaction.user.is_bot) return; // anonymous reactions cannot spend anyone's credits
    const intent = reactionIntent(reaction.old_reaction, reaction.new_reaction);
    if (!intent) return;
    await life.react({
      eventId: String(ctx.update.update_id),
      user: { id: String(reaction.user.id), displayName: displayNameOf(reaction.user) },
      chatId: String(reaction.chat.id),
      messageId: String(reaction.message_id),
      messageKey: messageKey(reaction.chat.id, reaction.message_id),
      intent,
    });
  }

  const gatherer: AlbumGatherer = createAlbumGatherer({ state: deps.state, quietMs: deps.albumQuietMs, onAlbum, logger });

  return { onMessage, onCallback, onReaction, gatherer };
}
