import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRedisTelegramState, type TelegramState } from '../../src/bots/telegram/telegram-state.js';
import { createProducerConnection } from '../../src/jobs/redis.js';
import { REDIS_URL } from '../support/test-app.js';

const HOUR = 3600 * 1000;

/**
 * The webhook's dedupe against real Redis, with a clock the test moves: ids seen in the last day
 * are dropped, ids older than Telegram's 24 h redelivery window are dropped however late they come,
 * and out-of-order redeliveries inside the window are still handled.
 */
describe('telegram redelivered and replayed updates', () => {
  let redis: ReturnType<typeof createProducerConnection>;
  let namespace: string;
  let clock: number;
  let state: TelegramState;
  /** What Redis does by itself once a key's TTL runs out. */
  const expireSeen = async () => {
    const keys = await redis.keys(`${namespace}:update:*`);
    if (keys.length) await redis.del(...keys);
  };

  beforeEach(() => {
    redis = createProducerConnection(REDIS_URL);
    namespace = `test-tg-${randomBytes(4).toString('hex')}`;
    clock = Date.UTC(2026, 0, 10, 12, 30);
    state = createRedisTelegramState(redis, namespace, { now: () => clock });
  });
  afterEach(async () => {
    const keys = await redis.keys(`${namespace}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('drops the same update id within the window, and handles it again after a failure', async () => {
    expect(await state.firstSeen(1000)).toBe(true);
    expect(await state.firstSeen(1000)).toBe(false);
    // Remembered for 26 h: past Telegram's 24 h and the hour buckets' slack.
    expect(await redis.ttl(`${namespace}:update:1000`)).toBeGreaterThan(25 * 3600);
    await state.unsee(1000);
    expect(await state.firstSeen(1000)).toBe(true);
  });

  it('handles an older id that arrives after newer ones inside the window (parallel or failed deliveries)', async () => {
    expect(await state.firstSeen(2000)).toBe(true);
    clock += 3 * HOUR;
    expect(await state.firstSeen(2005)).toBe(true);
    clock += 20 * HOUR; // 23 h after 2000 was handled: Telegram may still redeliver 1999
    expect(await state.firstSeen(1999)).toBe(true);
    expect(await state.firstSeen(2001)).toBe(true);
  });

  it('drops a replay at or below an id handled more than a day ago, long after the per-id record expired', async () => {
    expect(await state.firstSeen(3000)).toBe(true);
    expect(await state.firstSeen(3001)).toBe(true);
    clock += 30 * HOUR;
    await expireSeen();
    expect(await state.firstSeen(3001)).toBe(false);
    expect(await state.firstSeen(3000)).toBe(false);
    expect(await state.firstSeen(2500)).toBe(false);
    // Newer ids are new updates.
    expect(await state.firstSeen(3002)).toBe(true);
    clock += 5 * 24 * HOUR; // six days later, still within the marks' week
    await expireSeen();
    expect(await state.firstSeen(3001)).toBe(false);
    expect(await state.firstSeen(3002)).toBe(false);
    expect(await state.firstSeen(3003)).toBe(true);
  });

  it('forgets the marks after a week without updates, when Telegram starts from a random id', async () => {
    expect(await state.firstSeen(900_000)).toBe(true);
    clock += 8 * 24 * HOUR;
    await expireSeen();
    expect(await state.firstSeen(12)).toBe(true);
    expect(await redis.hlen(`${namespace}:update-marks`)).toBe(1);
    expect(await redis.ttl(`${namespace}:update-marks`)).toBeLessThanOrEqual(7 * 24 * 3600);
  });

  it('keeps two bots apart', async () => {
    const other = createRedisTelegramState(redis, `${namespace}:other`, { now: () => clock });
    expect(await state.firstSeen(42)).toBe(true);
    expect(await other.firstSeen(42)).toBe(true);
  });
});
