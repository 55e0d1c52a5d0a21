import { createApp } from './app.js';
import type { ChatPort } from './bots/core/deliverer.js';
import { createDiscordFrontend, type DiscordFrontend } from './bots/discord/index.js';
import { createTelegramFrontend, type TelegramFrontend } from './bots/telegram/telegram.frontend.js';
import type { Config } from './config.js';
import { closeFaceModels } from './images/index.js';
import { registerOperations } from './http/operations.js';
import { registerProbes } from './http/probes.js';
import { createHttpServer, type HttpServer } from './http/server.js';
import type { DeliveryObserver } from './bots/core/job-delivery.js';
import { createProducerConnection } from './jobs/redis.js';
import type { QueueWorker } from './jobs/workers.js';
import type { Logger } from './logger.js';

export type ServiceRole = 'serve' | 'worker' | 'all';

/** The chat side of a process: HTTP server, front-ends for whichever tokens are set, and their deliverers. */
interface ChatSide {
  deliverers: Map<string, ChatPort>;
  /** The metrics' view of the delivery worker. */
  deliveryObserver: DeliveryObserver;
  /** Bind HTTP_PORT (first, so a port in use stops the process before it takes any job). */
  listen(): Promise<void>;
  /** Start the chat front-ends. */
  start(): Promise<void>;
  /** Stop taking requests; deliveries still work until the app closes. */
  stop(): Promise<void>;
  /** Release connections, after the delivery worker has closed. */
  close(): Promise<void>;
}

function createChatSide(app: ReturnType<typeof createApp>, config: Config, logger: Logger, workers: () => readonly QueueWorker[], role: ServiceRole): ChatSide {
  const http: HttpServer = createHttpServer({ logger, limits: { maxConnections: config.http.maxConnections } });
  const ops = createOperationsListener(config, logger);
  // One connection for the chat side: readiness pings, the shared link secret, Discord's state.
  const redis = createProducerConnection(config.redisUrl);
  redis.on('error', (error) => logger.warn({ err: error }, 'redis (chat side) connection error'));
  const operations = registerOperations({ public: http, operations: ops.http }, { app, redis, workers });
  const { links, deliveryObserver } = operations;
  if (!config.http.publicUrl) logger.warn('PUBLIC_URL is not set: results too large for a chat cannot be offered as download links');
  const deliverers = new Map<string, ChatPort>();
  let telegram: TelegramFrontend | undefined;
  let discord: DiscordFrontend | undefined;

  if (config.telegram) {
    telegram = createTelegramFrontend({ app, config, logger, http, links });
    deliverers.set('telegram', telegram.deliverer);
  }
  if (config.discord) {
    discord = createDiscordFrontend({ app, config, logger, redis, links });
    deliverers.set('discord', discord.deliverer);
  }
  if (deliverers.size === 0) logger.warn('no chat platform configured (TELEGRAM_BOT_TOKEN, DISCORD_TOKEN): only the CLI front-end can make requests');

  return {
    deliverers,
    deliveryObserver,
    async listen() {
      const port = await bindOrExplain('HTTP_PORT', config.http.port, role, () => http.listen(config.http.port));
      logger.info({ port }, 'public HTTP listening (/files/, /healthz, the Telegram webhook)');
      await ops.start('/healthz, /readyz, /metrics, /admin/queues', role);
    },
    async start() {
      await telegram?.start();
      await discord?.start();
    },
    async stop() {
      await Promise.all([telegram?.stop(), discord?.stop()]);
    },
    async close() {
      await telegram?.close();
      await http.close();
      await ops.http.close();
      await operations.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/**
 * The operations listener, on OPS_HOST:OPS_PORT (127.0.0.1:8081 by default): what only the
 * operator, the orchestrator and Prometheus should reach.
 */
function createOperationsListener(config: Config, logger: Logger) {
  const http: HttpServer = createHttpServer({ logger });
  return {
    http,
    async start(serves: string, role: ServiceRole) {
      const port = await bindOrExplain('OPS_PORT', config.ops.port, role, () => http.listen(config.ops.port, config.ops.host));
      logger.info({ host: config.ops.host, port }, `operations listening (${serves})`);
    },
  };
}

/**
 * A GPU worker process's HTTP side: only the probes (`/healthz`, `/readyz`), on the operations
 * listener, for a container's health check or an orchestrator. It holds no chat token, serves no
 * files and has no public listener.
 */
function createProbeSide(app: ReturnType<typeof createApp>, config: Config, logger: Logger, workers: () => readonly QueueWorker[]) {
  const ops = createOperationsListener(config, logger);
  const redis = createProducerConnection(config.redisUrl);
  redis.on('error', (error) => logger.warn({ err: error }, 'redis (probes) connection error'));
  registerProbes(ops.http, { app, redis, workers });
  return {
    async listen() {
      await ops.start('probes: /healthz, /readyz', 'worker');
    },
    async close() {
      await ops.http.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** Long-running processes: run until SIGTERM/SIGINT, then let running jobs finish and close cleanly. */
export async function runService(role: ServiceRole, config: Config, logger: Logger): Promise<number> {
  const app = createApp(config, logger);
  const workers: QueueWorker[] = [];
  const chat = role !== 'worker' ? createChatSide(app, config, logger, () => workers, role) : undefined;
  const probes = role === 'worker' ? createProbeSide(app, config, logger, () => workers) : undefined;
  try {
    await (chat ?? probes)!.listen();
  } catch (error) {
    await chat?.close();
    await probes?.close();
    await app.close();
    throw error;
  }
  // Retention and clean-up after /forget: scheduled in the queue, so one process runs each tick.
  await app.startMaintenance();
  if (role !== 'serve') workers.push(app.startGpuWorker());
  if (chat) {
    workers.push(app.startDeliveryWorker(chat.deliverers, chat.deliveryObserver));
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
  await probes?.close();
  await closeFaceModels();
  logger.info('stopped');
  return 0;
}

/** Thrown when a listener's port is taken: says which setting to change instead of a bare EADDRINUSE. */
export class PortInUseError extends Error {
  constructor(
    readonly setting: 'HTTP_PORT' | 'OPS_PORT',
    readonly port: number,
    role: ServiceRole,
  ) {
    super(
      `${setting} ${port} is already in use on this host (another likeness process?). ` +
        `Give each process on one host its own port, e.g. ${setting}=${port + 1} likeness ${role}, or ${setting}=0 to take any free port.`,
    );
    this.name = 'PortInUseError';
  }
}

/** Binds a listener; a port in use becomes a {@link PortInUseError} naming the setting to change. */
async function bindOrExplain(setting: 'HTTP_PORT' | 'OPS_PORT', port: number, role: ServiceRole, bind: () => Promise<number>): Promise<number> {
  try {
    return await bind();
  } catch (error) {
    throw (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? new PortInUseError(setting, port, role) : error;
  }
}

