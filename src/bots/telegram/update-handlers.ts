import type { Api, Context } from 'grammy';
import type { Message } from 'grammy/types';
import type { App } from '../../app.js';
import { getJob } from '../../db/jobs.repository.js';
import { findResultsByMessage } from '../../db/results.repository.js';
import type { Conversation } from '../../db/schema.js';
import type { Logger } from '../../logger.js';
import { failedReply } from '../core/job-updates.js';
import { messageFor } from '../core/messages.js';
import type { Reply } from '../core/reply.js';
import type { CommandName, Request } from '../core/request.js';
import { createAlbumGatherer, type AlbumGatherer } from './album-gatherer.js';
import { checkingText, DONE_TEXT, ONE_MOMENT_TEXT, PHOTO_HINT } from './status-text.js';
import { telegramPhotoSource, type TelegramFileDeps } from './telegram-files.js';
import type { AlbumPart, TelegramState } from './telegram-state.js';
import { editStatus, sendText } from './telegram.deliverer.js';
import {
  conversationOf,
  decodeButton,
  displayNameOf,
  fileRefOf,
  inlineKeyboardOf,
  isForBot,
  messageKey,
  parseCommand,
  PHOTO_COMMANDS,
  portraitOptionsFromArgs,
  reactionIntent,
  restoreOptionsFromArgs,
  TELEGRAM_COMMANDS,
  type ParsedCommand,
} from './update-translation.js';

/**
 * What the Telegram front-end does with each update: captions, albums, replies, buttons and
 * reactions become requests for the command layer, and its replies are rendered into the chat.
 * The bot, its runner or webhook, and the deliverer are telegram.frontend.ts's.
 */

/** A reaction may beat the recording of its message's id by a moment (see findResultsByMessage). */
const REACTION_LOOKUP = { retries: 10, delayMs: 300 };

/** Buttons (and reactions) that queue GPU work: they get a status message like a photo request. */
const JOB_BUTTONS = new Set<CommandName>(['upscale', 'reroll', 'notthem']);

export interface UpdateHandlerDeps {
  app: Pick<App, 'commands' | 'styles' | 'database'>;
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
  const { app, api, botUsername, logger } = deps;
  const shared = deps.state;
  const fileDeps = deps.files;

  /** A command layer reply as a message in the chat; its buttons belong to `owner`. */
  async function sendReply(conversation: Conversation, reply: Reply, owner: string): Promise<void> {
    await sendText(api, conversation, reply.text, inlineKeyboardOf(reply.buttons, owner));
  }

  /**
   * A request that may queue GPU work: a status message goes out at once (before any download),
   * its id travels with the job, and it becomes the command layer's answer ("queued — position N",
   * or why not). Whoever delivers later edits the same message.
   */
  async function runJobRequest(request: Request, statusText: string): Promise<Reply> {
    const status = await sendText(api, request.conversation, statusText);
    const conversation: Conversation = { ...request.conversation, statusMessageId: String(status.message_id) };
    const reply = await app.commands.handle({ ...request, conversation });
    const markup = inlineKeyboardOf(reply.buttons, request.user.id);
    if (!(await editStatus(api, conversation, reply.text, markup))) await sendText(api, request.conversation, reply.text, markup);
    if (reply.job) await reconcileStatus(reply.job.id, conversation);
    return reply;
  }

  /**
   * A fast job may be delivered before "queued" was written over the status message: then the
   * delivery's word was overwritten, so it is said again. (A job that ends later is edited by its delivery.)
   */
  async function reconcileStatus(jobId: string, conversation: Conversation): Promise<void> {
    const job = await getJob(app.database.db, jobId);
    if (!job || job.conversation?.statusMessageId !== conversation.statusMessageId) return; // a redelivery: that status belongs to the first
    if (job.status === 'succeeded') await editStatus(api, conversation, DONE_TEXT);
    else if (job.status === 'failed') await editStatus(api, conversation, failedReply(job).text);
    else if (job.status === 'cancelled') await editStatus(api, conversation, 'Cancelled; the credits were refunded.');
  }

  function requestFrom(message: Message, command: CommandName, args: string, eventId: string): Request {
    const from = message.from!;
    const options =
      command === 'portrait'
        ? portraitOptionsFromArgs(args, (id) => app.styles.get(id) !== undefined)
        : command === 'restore'
          ? restoreOptionsFromArgs(args)
          : command === 'admin'
            ? { args }
            : command === 'link'
              ? { code: args }
              : {};
    return {
      platform: 'telegram',
      eventId,
      user: { id: String(from.id), displayName: displayNameOf(from) },
      conversation: conversationOf(message),
      command,
      options,
    };
  }

  /** A command in a message (or an album's caption): `photos` are the messages whose pictures it uses. */
  async function handleCommand(message: Message, parsed: ParsedCommand, eventId: string, photos: readonly Message[]): Promise<void> {
    const privateChat = message.chat.type === 'private';
    const command = TELEGRAM_COMMANDS[parsed.name];
    if (!command) {
      // In a group an unknown command may be another bot's; answer only when it named us.
      if (privateChat || parsed.mention) await sendText(api, conversationOf(message), messageFor('UNKNOWN_COMMAND'));
      return;
    }
    const request = requestFrom(message, command, parsed.args, eventId);
    if (!PHOTO_COMMANDS.has(command)) {
      await sendReply(request.conversation, await app.commands.handle(request), request.user.id);
      return;
    }
    // The photos of the message (or album); else those of the message it replies to.
    let files = photos.flatMap((m) => fileRefOf(m) ?? []);
    if (files.length === 0) files = [fileRefOf(message.reply_to_message)].flatMap((f) => f ?? []);
    request.photos = files.map((file, i) => telegramPhotoSource(fileDeps, file, `photo ${i + 1}`));
    if (files.length === 0) return sendReply(request.conversation, await app.commands.handle(request), request.user.id);
    const reply = await runJobRequest(request, checkingText(files.length));
    // A first-time user met the terms card: once they agree, this request runs without being sent again.
    if (reply.code === 'CONSENT_REQUIRED') await shared.holdForConsent(request.user.id, { eventId, message, photos: [...photos] });
  }

  async function onMessage(ctx: Context & { message: Message }): Promise<void> {
    const message = ctx.message;
    if (!message.from || message.from.is_bot) return;
    const privateChat = message.chat.type === 'private';
    const file = fileRefOf(message);
    if (message.media_group_id && file) {
      await gatherer.add(`${message.chat.id}:${message.media_group_id}`, { updateId: ctx.update.update_id, message });
      return;
    }
    const parsed = parseCommand(message.text ?? message.caption);
    if (!parsed) {
      // In groups the bot hears only what is meant for it; a stray message in private gets a pointer.
      if (privateChat) await sendText(api, conversationOf(message), PHOTO_HINT);
      return;
    }
    if (!isForBot(parsed, ctx.me.username)) return;
    await handleCommand(message, parsed, String(ctx.update.update_id), [message]);
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
    if (!isForBot(parsed, botUsername())) return;
    await handleCommand(message, parsed, `album:${message.chat.id}:${message.media_group_id}`, parts.map((p) => p.message));
  }

  async function onCallback(ctx: Context): Promise<void> {
    const query = ctx.callbackQuery!;
    const press = decodeButton(query.data);
    const presser = String(query.from.id);
    // Answered at once, so the button stops spinning; someone else's button gets a short notice instead.
    if (press?.owner && press.owner !== presser) {
      await ctx.answerCallbackQuery({ text: messageFor('NOT_YOURS') });
      return;
    }
    await ctx.answerCallbackQuery().catch((error: unknown) => logger.debug({ err: error }, 'callback query not answered'));
    const message = query.message;
    if (!press || !message) return;
    const conversation: Conversation = {
      platform: 'telegram',
      chatId: String(message.chat.id),
      messageId: String(message.message_id),
      threadId: 'is_topic_message' in message && message.is_topic_message && message.message_thread_id ? String(message.message_thread_id) : undefined,
      userId: presser,
    };
    const request: Request = {
      platform: 'telegram',
      eventId: String(ctx.update.update_id),
      user: { id: presser, displayName: displayNameOf(query.from) },
      conversation,
      command: press.command,
      target: press.target,
    };
    if (JOB_BUTTONS.has(press.command)) return void (await runJobRequest(request, ONE_MOMENT_TEXT));
    const reply = await app.commands.handle(request);
    // A one-time question (the terms, "delete everything?") loses its button once answered.
    if (reply.tone !== 'error' && (press.command === 'consent' || press.command === 'forget')) {
      await api.editMessageReplyMarkup(message.chat.id, message.message_id).catch(() => undefined);
    }
    await sendReply(conversation, reply, presser);
    if (press.command === 'consent' && reply.tone !== 'error') await runHeldRequest(presser);
  }

  /** The photo request that waited for the terms, run now that they are accepted. */
  async function runHeldRequest(userId: string): Promise<void> {
    const held = await shared.takeHeldForConsent(userId);
    const parsed = held && parseCommand(held.message.text ?? held.message.caption);
    if (held && parsed) await handleCommand(held.message, parsed, held.eventId, held.photos);
  }

  async function onReaction(ctx: Context): Promise<void> {
    const reaction = ctx.messageReaction!;
    if (!reaction.user || reaction.user.is_bot) return; // anonymous reactions cannot spend anyone's credits
    const intent = reactionIntent(reaction.old_reaction, reaction.new_reaction);
    if (!intent) return;
    const [result] = await findResultsByMessage(app.database.db, messageKey(reaction.chat.id, reaction.message_id), REACTION_LOOKUP);
    if (!result) return; // not one of our pictures
    const job = await getJob(app.database.db, result.jobId);
    // ❤ on the 8K file is thanks, not a request; "not them" applies to portraits only.
    if (!job || job.kind === 'upscale' || (intent === 'notthem' && job.kind !== 'portrait')) return;
    const reactor = String(reaction.user.id);
    const conversation: Conversation = {
      platform: 'telegram',
      chatId: String(reaction.chat.id),
      messageId: String(reaction.message_id),
      // The forum topic of the request, when the reaction is in that chat (private results are not).
      threadId: job.conversation?.chatId === String(reaction.chat.id) ? job.conversation.threadId : undefined,
      userId: reactor,
    };
    if (job.conversation?.userId && job.conversation.userId !== reactor) {
      await sendText(api, conversation, messageFor('NOT_YOURS'));
      return;
    }
    await runJobRequest(
      {
        platform: 'telegram',
        eventId: String(ctx.update.update_id),
        user: { id: reactor, displayName: displayNameOf(reaction.user) },
        conversation,
        command: intent,
        target: intent === 'upscale' ? result.id : result.jobId,
      },
      ONE_MOMENT_TEXT,
    );
  }

  const gatherer: AlbumGatherer = createAlbumGatherer({ state: shared, quietMs: deps.albumQuietMs, onAlbum, logger });

  return { onMessage, onCallback, onReaction, gatherer };
}
