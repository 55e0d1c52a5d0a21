import { autoRetry } from '@grammyjs/auto-retry';
import { run, sequentialize, type RunnerHandle } from '@grammyjs/runner';
import { Bot, type Context, type GrammyError } from 'grammy';
import type { Message } from 'grammy/types';
import type { App } from '../../app.js';
import type { Config } from '../../config.js';
import { getJob } from '../../db/jobs.repository.js';
import { findResultsByMessage } from '../../db/results.repository.js';
import type { Conversation } from '../../db/schema.js';
import type { HttpRouter, RouteHandler } from '../../http/server.js';
import { createProducerConnection } from '../../jobs/redis.js';
import type { Logger } from '../../logger.js';
import type { Deliverer } from '../core/deliverer.js';
import { failedReply } from '../core/job-updates.js';
import { messageFor } from '../core/messages.js';
import type { Reply } from '../core/reply.js';
import type { CommandName, Request } from '../core/request.js';
import { createAlbumGatherer, type AlbumGatherer } from './album-gatherer.js';
import { dropRedeliveredUpdates } from './redelivery-filter.js';
import { checkingText, DONE_TEXT, ONE_MOMENT_TEXT, PHOTO_HINT } from './status-text.js';
import { CLOUD_DOWNLOAD_LIMIT, CLOUD_UPLOAD_LIMIT, isLocalApiServer, LOCAL_SERVER_LIMIT, telegramPhotoSource, type TelegramFileDeps } from './telegram-files.js';
import { createRedisTelegramState, type AlbumPart, type TelegramState } from './telegram-state.js';
import { createTelegramDeliverer, editStatus, isChatGone, sendText, type SignedLinks } from './telegram.deliverer.js';
import { createWebhookRoute } from './telegram-webhook.js';
import {
  COMMAND_MENU,
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

/** A reaction may beat the recording of its message's id by a moment (see findResultsByMessage). */
const REACTION_LOOKUP = { retries: 10, delayMs: 300 };

/** The updates the bot asks Telegram for: messages, button presses and reactions. */
export const ALLOWED_UPDATES = ['message', 'callback_query', 'message_reaction'] as const;

/** Buttons (and reactions) that queue GPU work: they get a status message like a photo request. */
const JOB_BUTTONS = new Set<CommandName>(['upscale', 'reroll', 'notthem']);

/** Knobs with production defaults; tests turn them down. */
export interface TelegramTuning {
  /** Quiet time after an album's latest part before it is handled (default 1000 ms). */
  albumQuietMs: number;
  /** Long-polling `getUpdates` timeout (default 30 s). */
  pollTimeoutSeconds: number;
  /** How often "sending a photo…" is renewed while a job runs (default 4.5 s). */
  chatActionEveryMs: number;
  /** Largest webhook body accepted (default 1 MB; updates are small). */
  webhookBodyLimit: number;
  /** Overrides the file limits implied by TELEGRAM_API_ROOT (20 MB down and 50 MB up on the public API). */
  downloadLimit?: number;
  documentLimit?: number;
  /** Shared state; default Redis at REDIS_URL. */
  state?: TelegramState;
}

export interface TelegramFrontendDeps {
  app: Pick<App, 'commands' | 'store' | 'styles' | 'database'>;
  config: Pick<Config, 'telegram' | 'redisUrl' | 'queuePrefix'>;
  logger: Logger;
  /** In webhook mode the webhook route is registered here. */
  http?: HttpRouter;
  /** Signed download links for files too large to send (the HTTP server's, when it has them). */
  links?: SignedLinks;
  tuning?: Partial<TelegramTuning>;
}

/** The Telegram front-end of a bots process. */
export interface TelegramFrontend {
  /** The grammY bot (its `api` has auto-retry installed). */
  readonly bot: Bot;
  /** For the delivery worker: `new Map([['telegram', frontend.deliverer]])`. */
  readonly deliverer: Deliverer;
  /** In webhook mode: the route Telegram posts updates to (already registered when `http` was given). */
  readonly webhook?: { path: string; handler: RouteHandler };
  /** Reads the bot's identity, sets the command menu, then polls (or registers the webhook). */
  start(): Promise<void>;
  /** Stops taking updates and waits for the ones being handled (albums included). Deliveries still work. */
  stop(): Promise<void>;
  /** Releases connections; call after the delivery worker is closed. */
  close(): Promise<void>;
}

/**
 * Builds the grammY front-end: captions, albums, replies, buttons and reactions become requests
 * for the command layer; its replies are rendered into the chat; the deliverer posts results.
 * Long polling (with @grammyjs/runner: one chat's updates in order, chats in parallel) unless
 * TELEGRAM_WEBHOOK_URL is set. The token stays inside grammY and the file download: it is never
 * logged and never reaches job data.
 */
export function createTelegramFrontend(deps: TelegramFrontendDeps): TelegramFrontend {
  const telegram = deps.config.telegram;
  if (!telegram) throw new Error('TELEGRAM_BOT_TOKEN is not set');
  const { app } = deps;
  const logger = deps.logger.child({ platform: 'telegram' });
  const apiRoot = telegram.apiRoot.replace(/\/+$/, ''); // grammY refuses a trailing slash
  const localServer = isLocalApiServer(apiRoot);
  const tuning: TelegramTuning = {
    albumQuietMs: 1_000,
    pollTimeoutSeconds: 30,
    chatActionEveryMs: 4_500,
    webhookBodyLimit: 1_000_000,
    ...deps.tuning,
  };

  const bot = new Bot(telegram.token, { client: { apiRoot } });
  // 429s wait out `retry_after`; network failures are not retried forever (the queue retries deliveries).
  bot.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 120, rethrowHttpErrors: true }));
  const api = bot.api;

  let redis: ReturnType<typeof createProducerConnection> | undefined;
  let state = tuning.state;
  if (!state) {
    redis = createProducerConnection(deps.config.redisUrl);
    redis.on('error', (error) => logger.warn({ err: error }, 'redis (telegram state) connection error'));
    // The bot id (the token's public half) keeps two bots on one Redis apart.
    state = createRedisTelegramState(redis, `${deps.config.queuePrefix}:tg:${telegram.token.split(':')[0]}`);
  }
  const shared: TelegramState = state;

  const fileDeps: TelegramFileDeps = {
    api,
    token: telegram.token,
    apiRoot,
    downloadLimit: tuning.downloadLimit ?? (localServer ? LOCAL_SERVER_LIMIT : CLOUD_DOWNLOAD_LIMIT),
  };

  const deliverer = createTelegramDeliverer({
    api,
    store: app.store,
    state: shared,
    jobInfo: (jobId) => getJob(app.database.db, jobId),
    documentLimit: tuning.documentLimit ?? (localServer ? LOCAL_SERVER_LIMIT : CLOUD_UPLOAD_LIMIT),
    links: deps.links,
    logger,
    chatActionEveryMs: tuning.chatActionEveryMs,
  });

  const botUsername = () => bot.botInfo.username;

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

  const gatherer: AlbumGatherer = createAlbumGatherer({ state: shared, quietMs: tuning.albumQuietMs, onAlbum, logger });

  // One chat's updates in order, chats in parallel (the runner handles updates concurrently).
  bot.use(sequentialize((ctx: Context) => ctx.chat?.id.toString()));
  // A redelivered update (same update_id) is dropped; one whose handling failed may be tried again.
  bot.use(dropRedeliveredUpdates(shared, logger));
  bot.on('message', (ctx) => onMessage(ctx));
  bot.on('callback_query:data', (ctx) => onCallback(ctx));
  bot.on('message_reaction', (ctx) => onReaction(ctx));
  /** One boundary for failed updates: a chat closed to the bot is expected, anything else is an error. */
  const logFailure = (error: unknown, updateId: number, chatId?: number) => {
    if (isChatGone(error)) logger.info({ updateId, chatId, description: (error as GrammyError).description }, 'chat closed to the bot; update dropped');
    else logger.error({ err: error, updateId, chatId }, 'telegram update failed');
  };
  bot.catch((error) => logFailure(error.error, error.ctx.update.update_id, error.ctx.chat?.id));

  let webhook: TelegramFrontend['webhook'];
  let accepting = true;
  const inFlight = new Set<Promise<unknown>>();
  if (telegram.webhookUrl) {
    const handler = createWebhookRoute({
      secret: telegram.webhookSecret ?? '',
      bodyLimit: tuning.webhookBodyLimit,
      handleUpdate: (update) => bot.handleUpdate(update),
      accepting: () => accepting,
      inFlight,
      onFailure: logFailure,
    });
    webhook = { path: new URL(telegram.webhookUrl).pathname, handler };
    deps.http?.route('POST', webhook.path, handler);
  }

  let runner: RunnerHandle | undefined;

  return {
    bot,
    deliverer,
    webhook,
    async start() {
      await bot.init();
      logger.info({ username: botUsername(), mode: webhook ? 'webhook' : 'polling', localServer }, 'telegram bot ready');
      await api.setMyCommands(COMMAND_MENU).catch((error: unknown) => logger.warn({ err: error }, 'could not set the command menu'));
      if (telegram.webhookUrl) {
        await api.setWebhook(telegram.webhookUrl, { secret_token: telegram.webhookSecret, allowed_updates: [...ALLOWED_UPDATES] });
        return;
      }
      await api.deleteWebhook(); // polling and a webhook exclude each other
      runner = run(bot, {
        runner: { fetch: { timeout: tuning.pollTimeoutSeconds, allowed_updates: [...ALLOWED_UPDATES] }, silent: true, retryInterval: 'exponential' },
      });
      runner.task()?.catch((error: unknown) => logger.error({ err: error }, 'telegram polling stopped'));
    },
    async stop() {
      accepting = false;
      if (runner?.isRunning()) await runner.stop();
      await Promise.allSettled([...inFlight]);
      await gatherer.drain();
    },
    async close() {
      deliverer.close();
      if (redis) await shared.close(); // state passed in belongs to the caller
    },
  };
}
