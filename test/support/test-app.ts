import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createApp, type App } from '../../src/app.js';
import type { ChatPort } from '../../src/bots/core/deliverer.js';
import type { Reply } from '../../src/bots/core/reply.js';
import type { Request } from '../../src/bots/core/request.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Conversation } from '../../src/bots/core/model.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { createTestDatabase } from './databases.js';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface Delivered {
  conversation: Conversation;
  reply: Reply;
  /** `progress`: the status said a worker started; `final`: the outcome (pictures, or why not). */
  kind: 'progress' | 'final';
  jobId: string;
}

/** A deliverer that remembers what it was asked to send, and lets a test wait for a job's final message. */
export function recordingDeliverer() {
  const delivered: Delivered[] = [];
  const waiters: Array<{ jobId: string; resolve: (d: Delivered) => void }> = [];
  let messageSeq = 0;
  const record = (entry: Delivered) => {
    delivered.push(entry);
    if (entry.kind === 'final') for (const w of waiters.filter((x) => x.jobId === entry.jobId)) w.resolve(entry);
  };
  // A chat with a status that can always be edited: progress and an outcome without pictures land there.
  const deliverer: ChatPort = {
    platform: 'telegram',
    status: {
      async post(conversation, reply, { stage, jobId }) {
        if (stage === 'outcome' && jobId) record({ conversation, reply, kind: 'final', jobId });
        return `status-${++messageSeq}`;
      },
      async edit(conversation, reply, { stage, jobId }) {
        if (jobId && stage === 'progress') record({ conversation, reply, kind: 'progress', jobId });
        if (jobId && stage === 'outcome') record({ conversation, reply, kind: 'final', jobId });
        return true;
      },
    },
    async postResults(conversation, reply, jobId, shown) {
      for (const index of (reply.images ?? []).keys()) await shown(index, `msg-${++messageSeq}`);
      record({ conversation, reply, kind: 'final', jobId });
      return { privately: false };
    },
  };
  const finalFor = (jobId: string, timeoutMs = 20_000): Promise<Delivered> => {
    const done = delivered.find((d) => d.jobId === jobId && d.kind === 'final');
    if (done) return Promise.resolve(done);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no final delivery for job ${jobId} within ${timeoutMs} ms`)), timeoutMs);
      waiters.push({ jobId, resolve: (d) => (clearTimeout(timer), resolve(d)) });
    });
  };
  return { deliverer, delivered, finalFor };
}

export interface TestApp {
  app: App;
  config: Config;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/**
 * A full app on a fresh database, a unique queue prefix and a temporary DATA_DIR; `logger` replaces
 * the silent one (given the config, e.g. for its secrets).
 */
export async function createTestApp(env: Record<string, string> = {}, options: { logger?: (config: Config) => Logger } = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'likeness-test-'));
  const fullEnv = {
    DATABASE_URL: database.url,
    REDIS_URL,
    QUEUE_PREFIX: `test-${randomBytes(5).toString('hex')}`,
    DATA_DIR: dataDir,
    GPU_BACKEND: 'instant',
    GPU_RETRY_BACKOFF_MS: '50',
    LOCAL_SUPER_RESOLUTION: 'lanczos',
    LOG_LEVEL: 'silent',
    ...env,
  };
  const config = loadConfig(fullEnv);
  const app = createApp(config, options.logger?.(config) ?? createLogger({ level: config.logLevel }));
  return {
    app,
    config,
    env: fullEnv,
    async cleanup() {
      await app.close();
      await clearQueuePrefix(config.queuePrefix);
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function clearQueuePrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

let eventSeq = 0;

/** A request as a chat adapter would make it; photos are in-memory buffers. */
export function chatRequest(overrides: Partial<Request> & { photos?: Request['photos'] } = {}): Request {
  return {
    platform: 'telegram',
    eventId: `${Date.now()}${++eventSeq}`,
    user: { id: 'u-1', displayName: 'Ada' },
    conversation: { platform: 'telegram', chatId: 'chat-1', messageId: 'm-1' },
    command: 'portrait',
    options: {},
    ...overrides,
  };
}

export const bufferSource = (bytes: Buffer, label = 'photo.jpg'): NonNullable<Request['photos']>[number] => ({
  label,
  declaredBytes: bytes.byteLength,
  read: async (maxBytes) => {
    if (bytes.byteLength > maxBytes) {
      const { AppError } = await import('../../src/errors.js');
      throw new AppError('FILE_TOO_LARGE', 'too large', { details: { max: maxBytes } });
    }
    return bytes;
  },
});

/** Gives consent for a user so portrait requests go through. */
export async function agree(app: App, user = 'u-1', platform: Request['platform'] = 'telegram'): Promise<void> {
  const reply = await app.commands.handle(chatRequest({ command: 'consent', user: { id: user }, platform }));
  if (reply.tone === 'error') throw new Error(reply.text);
}

/** Polls until `check` returns a truthy value. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
