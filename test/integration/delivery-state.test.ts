import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatPort } from '../../src/bots/core/deliverer.js';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../../src/db/client.js';
import { keepTrying, keepTryingWhileDatabaseDown } from '../../src/jobs/keep-trying.js';
import { createRedisDiscordState } from '../../src/bots/discord/discord-state.js';
import { createRedisTelegramState } from '../../src/bots/telegram/telegram-state.js';
import { createProducerConnection } from '../../src/jobs/redis.js';
import { createTestDatabase, SERVER_URL } from '../support/databases.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { agree, bufferSource, chatRequest, createTestApp, recordingDeliverer, REDIS_URL, type TestApp } from '../support/test-app.js';

describe('keepTrying', () => {
  it('retries until the operation succeeds, and gives up with the last error after its budget', async () => {
    let calls = 0;
    await expect(keepTrying(async () => (++calls < 3 ? Promise.reject(new Error(`no ${calls}`)) : 'ok'), 5_000, 10)).resolves.toBe('ok');
    expect(calls).toBe(3);
    const started = Date.now();
    await expect(keepTrying(() => Promise.reject(new Error('still down')), 200, 10)).rejects.toThrow('still down');
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('keepTryingWhileDatabaseDown', () => {
  it('waits out a Postgres that stops answering and writes once it is back; a real error is thrown at once', async () => {
    const database = await createTestDatabase();
    const target = new URL(SERVER_URL);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(database.url);
    viaProxy.port = String(proxy.port);
    const { db, close } = openDatabase(viaProxy.toString());
    try {
      await db.execute(sql`create table written (n int)`);
      proxy.cut();
      setTimeout(() => proxy.restore(), 1_500);
      const started = Date.now();
      await keepTryingWhileDatabaseDown(db, () => db.execute(sql`insert into written values (1)`), 10_000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      expect((await db.execute(sql`select count(*)::int as n from written`)).rows).toEqual([{ n: 1 }]);

      const before = Date.now();
      await expect(keepTryingWhileDatabaseDown(db, () => db.execute(sql`insert into no_such_table values (1)`), 10_000)).rejects.toThrow(/no_such_table/);
      expect(Date.now() - before).toBeLessThan(1_000);
    } finally {
      proxy.restore();
      await close();
      await proxy.close();
      await database.drop();
    }
  });
});

describe('delivery steps in Redis', () => {
  let redis: Redis | undefined;
  let t: TestApp | undefined;
  afterEach(async () => {
    redis?.disconnect();
    await t?.cleanup();
  });

  /** The real connection, except that its next `failures` writes fail as a restarting Redis makes them fail. */
  const flakyWrites = (real: Redis, failures: number): Redis =>
    new Proxy(real, {
      get(target, prop) {
        if (prop === 'multi' && failures-- > 0) {
          const broken = { hset: () => broken, expire: () => broken, exec: async () => Promise.reject(new Error('Connection is closed.')) };
          return () => broken;
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });

  it.each([
    ['telegram', (r: Redis, ns: string) => createRedisTelegramState(r, ns)],
    ['discord', (r: Redis, ns: string) => createRedisDiscordState(r, ns)],
  ] as const)('%s: a step recorded while Redis is briefly unreachable is kept, not lost (so a retry cannot send twice)', async (_name, create) => {
    redis = createProducerConnection(REDIS_URL);
    const namespace = `test-steps-${randomBytes(4).toString('hex')}`;
    const state = create(flakyWrites(redis, 3), namespace);
    await state.recordDeliveryStep('job-1', 'media', '11,12');
    await state.recordDeliveryStep('job-1', 'buttons', '13');
    expect(await state.deliverySteps('job-1')).toEqual({ media: '11,12', buttons: '13' });
    expect(await redis.ttl(`${namespace}:delivery:job-1`)).toBeLessThanOrEqual(24 * 3600);

    await state.forgetDeliverySteps('job-1');
    expect(await state.deliverySteps('job-1')).toEqual({});
  });

  it('the delivery worker lets the deliverer drop its steps once the outcome is recorded as delivered', async () => {
    t = await createTestApp();
    const outbox = recordingDeliverer();
    const settled: string[] = [];
    const deliverer: ChatPort = { ...outbox.deliverer, settled: async (jobId) => void settled.push(jobId) };
    t.app.startGpuWorker();
    t.app.startDeliveryWorker(new Map([['telegram', deliverer]]));
    await agree(t.app);
    const photo = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));
    const reply = await t.app.commands.handle(chatRequest({ photos: [bufferSource(photo)] }));
    await outbox.finalFor(reply.job!.id);
    await expect.poll(() => settled, { timeout: 5_000 }).toEqual([reply.job!.id]);
  });
});
