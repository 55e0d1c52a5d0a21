import type { Redis } from 'ioredis';
import type { Platform } from './model.js';

/** How many photo requests a person may make in a window, counted before anything is downloaded. */
export interface IntakeLimit {
  /** Counts one request of this person's; false when it is over their limit (it still counts). */
  take(platform: Platform, userId: string): Promise<boolean>;
  /** The window, for the words that tell the person how long to wait. */
  readonly windowMinutes: number;
}

const WINDOW_MINUTES = 10;

/**
 * The limit in Redis, shared by every bots process: a counter per person and 10-minute window.
 * Every request counts, refused or not, so a stream of bad files is slowed like any other.
 */
export function createRedisIntakeLimit(redis: Redis, namespace: string, perWindow: number): IntakeLimit {
  return {
    windowMinutes: WINDOW_MINUTES,
    async take(platform, userId) {
      const window = Math.floor(Date.now() / (WINDOW_MINUTES * 60_000));
      const key = `${namespace}:${platform}:${userId}:${window}`;
      const [[error, count] = [null, 0]] = (await redis.multi().incr(key).expire(key, WINDOW_MINUTES * 60 + 5).exec()) ?? [];
      if (error) throw error;
      return Number(count) <= perWindow;
    },
  };
}

/** The same in this process's memory, for tests and the CLI. */
export function createMemoryIntakeLimit(perWindow: number): IntakeLimit & { counts: Map<string, number> } {
  const counts = new Map<string, number>();
  return {
    counts,
    windowMinutes: WINDOW_MINUTES,
    async take(platform, userId) {
      const key = `${platform}:${userId}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      return counts.get(key)! <= perWindow;
    },
  };
}
