import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisIntakeLimit } from '../../src/bots/core/intake-limit.js';
import { REDIS_URL } from '../support/test-app.js';

describe('the per-person photo limit in Redis', () => {
  const redis = new Redis(REDIS_URL);
  const second = new Redis(REDIS_URL); // a second bots process's connection
  const namespace = `test-${randomBytes(4).toString('hex')}:intake`;
  afterAll(async () => void (await Promise.all([redis.quit(), second.quit()])));

  it('counts every request of a person across processes, apart from everyone else, and forgets the window by itself', async () => {
    const one = createRedisIntakeLimit(redis, namespace, 2);
    const other = createRedisIntakeLimit(second, namespace, 2);
    expect(await one.take('telegram', '1')).toBe(true);
    expect(await other.take('telegram', '1')).toBe(true);
    expect(await one.take('telegram', '1')).toBe(false);
    expect(await one.take('discord', '1')).toBe(true);
    const [key] = await redis.keys(`${namespace}:telegram:1:*`);
    const ttl = await redis.ttl(key!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(10 * 60 + 5);
  });
});
