/**
 * One scenario's world: a fresh database and queue prefix on the chaos servers, a fake Telegram
 * (and, when asked, a fake Discord), the real `likeness serve` and `likeness worker` processes,
 * and a command layer in the runner that plays the chat front-end for the request stream.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startFakeDiscord, type FakeDiscord } from '../support/fake-discord.js';
import { FakeTelegram } from '../support/fake-telegram.js';
import { countOrphanCharges, judge, readJobs, type JobRow, type Tally } from './audit.js';
import { watchDeliveries, type DeliveryWatch } from './deliveries.js';
import type { ChaosInfra } from './infra.js';
import { createLoad, type Load } from './load.js';
import { killAll, stackProcess, type StackProcess } from './stack.js';

export const TEMPLATE_DB = 'chaos_template';

export interface HarnessOptions {
  /** GPU worker processes (default 2). */
  workers?: number;
  /** Extra environment for every process (and the runner's command layer). */
  env?: Record<string, string>;
  /** Environment for the worker processes only (e.g. the GPU backend). */
  workerEnv?: Record<string, string>;
  /** Where the bots reach "Telegram" (default the fake; a scenario may put a proxy in between). */
  telegramApiRoot?: (fake: FakeTelegram) => Promise<string> | string;
  discord?: boolean;
}

export interface Harness {
  name: string;
  env: Record<string, string>;
  /** The runner's own app: its command layer is the front-end of the request stream (no workers run here). */
  app: App;
  telegram: FakeTelegram;
  discord?: FakeDiscord;
  deliveries: DeliveryWatch;
  serve: StackProcess;
  workers: StackProcess[];
  load: Load;
  /** Every process of the stack. */
  processes(): StackProcess[];
  jobs(): Promise<JobRow[]>;
  /** The verdict so far: requests, jobs and ledger, and what the chats received. */
  tally(): Promise<Tally>;
  /**
   * Waits until every accepted request reached its outcome in its chat and no job is queued or
   * running (or `timeoutMs` passed); returns whether it got there.
   */
  settle(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** A Telegram photo-sized stand-in for a person's photo (the face check is skipped in the runner). */
let photo: Buffer | undefined;
async function loadPhoto(): Promise<Buffer> {
  if (!photo) {
    const { readFile } = await import('node:fs/promises');
    const { resizeToLongEdge } = await import('../../src/images/index.js');
    photo = await resizeToLongEdge(await readFile(new URL('../../samples/astronaut.jpg', import.meta.url)), 160);
  }
  return photo;
}

export async function openHarness(infra: ChaosInfra, name: string, options: HarnessOptions = {}): Promise<Harness> {
  const database = `chaos_${name.replace(/\W/g, '_')}`;
  await infra.postgres.query('postgres', `drop database if exists ${database} with (force)`);
  await infra.postgres.query('postgres', `create database ${database} template ${TEMPLATE_DB}`);
  const logDir = join(infra.root, 'logs', name);
  await mkdir(logDir, { recursive: true });
  const telegram = await new FakeTelegram().start();
  const discord = options.discord ? await startFakeDiscord({ heartbeatIntervalMs: 2_000 }) : undefined;
  const apiRoot = options.telegramApiRoot ? await options.telegramApiRoot(telegram) : telegram.url;
  const env: Record<string, string> = {
    DATABASE_URL: `${infra.postgres.serverUrl}/${database}`,
    REDIS_URL: infra.redis.url,
    QUEUE_PREFIX: `chaos-${name}`,
    DATA_DIR: join(infra.root, 'data', name),
    GPU_BACKEND: 'instant',
    INSTANT_BACKEND_DELAY_MS: '200',
    GPU_CONCURRENCY: '4',
    GPU_JOB_LOCK_MS: '4000',
    LOCAL_SUPER_RESOLUTION: 'lanczos',
    HTTP_PORT: '0',
    OPS_PORT: '0',
    LOG_LEVEL: 'info',
    FREE_DAILY_CREDITS: '100000',
    MAX_ACTIVE_JOBS_PER_USER: '1000',
    // The scenarios are about faults, not the per-person photo limit (unit- and integration-tested).
    PHOTO_REQUESTS_PER_10_MIN: '1000000',
    INTAKE_MAX_WAITING: '100000',
    TELEGRAM_BOT_TOKEN: telegram.token,
    TELEGRAM_API_ROOT: apiRoot,
    ...(discord ? { DISCORD_TOKEN: discord.token, DISCORD_API_BASE: discord.apiBase, ATTACHMENT_HOSTS: discord.cdnHost } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const logger = createLogger({ level: 'info', destination: pino.destination({ dest: join(logDir, 'runner.log'), sync: false }) });
  // Every photo counts as one face here: the face model is image work, not what these scenarios test.
  const app = createApp(config, logger, { faceCheck: async (photos) => photos.map((_, i) => ({ photo: i + 1, faces: 1 })) });
  const serve = stackProcess('serve', 'serve', env, logDir);
  const workers = Array.from({ length: options.workers ?? 2 }, (_, i) => stackProcess(`worker-${i + 1}`, 'worker', { ...env, ...options.workerEnv }, logDir));
  const deliveries = watchDeliveries(telegram);
  const load = createLoad(app, { photo: await loadPhoto(), runId: name });
  const processes = () => [serve, ...workers];
  await Promise.all(processes().map((p) => p.start()));
  await discord?.ready();

  const harness: Harness = {
    name,
    env,
    app,
    telegram,
    discord,
    deliveries,
    serve,
    workers,
    load,
    processes,
    jobs: () => readJobs(app.database.pool),
    async tally() {
      const [jobs, orphans] = await Promise.all([readJobs(app.database.pool), countOrphanCharges(app.database.pool)]);
      return judge(load.records, jobs, deliveries.byChat(), orphans);
    },
    async settle(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const done = await quiet(harness).catch(() => false);
        if (done) return true;
        if (Date.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async close() {
      deliveries.stop();
      await killAll(processes());
      await app.close().catch(() => undefined);
      await Promise.allSettled([telegram.close(), discord?.close()]);
      await infra.postgres.query('postgres', `drop database if exists ${database} with (force)`).catch(() => undefined);
    },
  };
  return harness;
}

/** Every accepted request has its outcome in its chat, and no job waits or runs. */
async function quiet(h: Harness): Promise<boolean> {
  const { rows } = await h.app.database.pool.query(`select count(*)::int as n from jobs where status in ('queued', 'running')`);
  if (rows[0].n > 0) return false;
  const chats = h.deliveries.byChat();
  return h.load.records.every((r) => {
    if (!r.jobId) return r.repliedAt !== undefined;
    const chat = chats.get(r.chatId);
    return Boolean(chat && (chat.albums.length > 0 || chat.texts.some((t) => /refunded/i.test(t.text))));
  });
}
