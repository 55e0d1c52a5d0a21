import { autoRetry } from '@grammyjs/auto-retry';
import { run, sequentialize, type RunnerHandle } from '@grammyjs/runner';
import { Bot, type Context, type GrammyError } from 'grammy';
import type { App } from '../../app.js';
import type { Config } from '../../config.js';
import type { HttpRouter, RouteHandler } from '../../http/server.js';
import { createProducerConnection } from '../../jobs/redis.js';
import type { Logger } from '../../logger.js';
import { textMenu } from '../core/command-catalog.js';
import { UndeliverableError, type ChatPort, type SignedLinks } from '../core/deliverer.js';
import { createRequestLife } from '../core/request-life.js';
import { dropRedeliveredUpdates } from './redelivery-filter.js';
import { createTelegramChat, isChatGone } from './telegram-chat.js';
import { CLOUD_DOWNLOAD_LIMIT, CLOUD_UPLOAD_LIMIT, isLocalApiServer, LOCAL_SERVER_LIMIT, type TelegramFileDeps } from './telegram-files.js';
import { createRedisTelegramState, type TelegramState } from './telegram-state.js';
import { createWebhookRoute } from './telegram-webhook.js';
import { createUpdateHandlers } from './update-handlers.js';

/** The updates the bot asks Telegram for: messages, button presses and reactions. */
export const ALLOWED_UPDATES = ['message', 'callback_query', 'message_reaction'] as const;

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
  app: Pick<App, 'commands' | 'store' | 'styles' | 'repos' | 'heldRequests' | 'intake'>;
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
  readonly deliverer: ChatPort;
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
    localFilesDir: telegram.localFilesDir,
    downloadLimit: tuning.downloadLimit ?? (localServer ? LOCAL_SERVER_LIMIT : CLOUD_DOWNLOAD_LIMIT),
  };

  const deliverer = createTelegramChat({
    api,
    store: app.store,
    steps: shared,
    files: fileDeps,
    jobStatus: (jobId) => app.repos.jobs.get(jobId),
    documentLimit: tuning.documentLimit ?? (localServer ? LOCAL_SERVER_LIMIT : CLOUD_UPLOAD_LIMIT),
    links: deps.links,
    logger,
    chatActionEveryMs: tuning.chatActionEveryMs,
  });
  const life = createRequestLife({ commands: app.commands, repos: app.repos, chat: deliverer, held: app.heldRequests, gate: app.intake, logger });

  const botUsername = () => bot.botInfo.username;
  const { onMessage, onCallback, onReaction, gatherer } = createUpdateHandlers({
    life,
    styles: app.styles,
    api,
    state: shared,
    files: fileDeps,
    botUsername,
    albumQuietMs: tuning.albumQuietMs,
    logger,
  });

  // One chat's updates in order, chats in parallel (the runner handles updates concurrently).
  bot.use(sequentialize((ctx: Context) => ctx.chat?.id.toString()));
  // A redelivered update (same update_id) is dropped; one whose handling failed may be tried again.
  bot.use(dropRedeliveredUpdates(shared, logger));
  bot.on('message', (ctx) => onMessage(ctx));
  bot.on('callback_query:data', (ctx) => onCallback(ctx));
  bot.on('message_reaction', (ctx) => onReaction(ctx));
  /** One boundary for failed updates: a chat closed to the bot is expected, anything else is an error. */
  const logFailure = (error: unknown, updateId: number, chatId?: number) => {
    if (isChatGone(error) || error instanceof UndeliverableError) {
      logger.info({ updateId, chatId, description: (error as GrammyError).description ?? (error as Error).message }, 'chat closed to the bot; update dropped');
    }
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
      await api.setMyCommands(textMenu()).catch((error: unknown) => logger.warn({ err: error }, 'could not set the command menu'));
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
