import { createApp } from './app.js';
import type { Deliverer } from './bots/core/deliverer.js';
import { createDiscordFrontend, type DiscordFrontend } from './bots/discord/index.js';
import { createTelegramFrontend, type TelegramFrontend } from './bots/telegram/telegram.frontend.js';
import type { Config } from './config.js';
import { createHttpServer, type HttpServer } from './http/server.js';
import { createProducerConnection } from './jobs/redis.js';
import type { Logger } from './logger.js';

export type ServiceRole = 'serve' | 'worker' | 'all';

/** The chat side of a process: HTTP server, front-ends for whichever tokens are set, and their deliverers. */
interface ChatSide {
  deliverers: Map<string, Deliverer>;
  start(): Promise<void>;
  /** Stop taking requests; deliveries still work until the app closes. */
  stop(): Promise<void>;
  /** Release connections, after the delivery worker has closed. */
  close(): Promise<void>;
}

function createChatSide(app: ReturnType<typeof createApp>, config: Config, logger: Logger): ChatSide {
  const http: HttpServer = createHttpServer({ logger });
  http.route('GET', '/healthz', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  const deliverers = new Map<string, Deliverer>();
  let telegram: TelegramFrontend | undefined;
  let discord: DiscordFrontend | undefined;
  const discordRedis = config.discord ? createProducerConnection(config.redisUrl) : undefined;
  discordRedis?.on('error', (error) => logger.warn({ err: error }, 'redis (discord) connection error'));

  if (config.telegram) {
    telegram = createTelegramFrontend({ app, config, logger, http });
    deliverers.set('telegram', telegram.deliverer);
  }
  if (config.discord && discordRedis) {
    discord = createDiscordFrontend({ app, config, logger, redis: discordRedis });
    deliverers.set('discord', discord.deliverer);
  }
  if (deliverers.size === 0) logger.warn('no chat platform configured (TELEGRAM_BOT_TOKEN, DISCORD_TOKEN): only the CLI front-end can make requests');

  return {
    deliverers,
    async start() {
      await http.listen(config.http.port);
      await telegram?.start();
      await discord?.start();
    },
    async stop() {
      await Promise.all([telegram?.stop(), discord?.stop()]);
    },
    async close() {
      await telegram?.close();
      await discordRedis?.quit().catch(() => discordRedis.disconnect());
      await http.close();
    },
  };
}

/** Long-running processes: run until SIGTERM/SIGINT, then let running jobs finish and close cleanly. */
export async function runService(role: ServiceRole, config: Config, logger: Logger): Promise<number> {
  const app = createApp(config, logger);
  if (role !== 'serve') app.startGpuWorker();
  const chat = role !== 'worker' ? createChatSide(app, config, logger) : undefined;
  if (chat) {
    app.startDeliveryWorker(chat.deliverers);
    await chat.start();
  }
  logger.info({ role, backend: config.gpu.backend, platforms: [...(chat?.deliverers.keys() ?? [])] }, 'likeness started');

  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'shutting down: finishing running jobs');
  await chat?.stop();
  await app.close();
  await chat?.close();
  logger.info('stopped');
  return 0;
}
