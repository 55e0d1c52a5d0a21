import type { Redis } from 'ioredis';
import type { Platform } from './model.js';
import type { PhotoRef, Request } from './request.js';

/** A photo request that met the terms card, kept so that "I agree" runs it without the photos being sent again. */
export interface HeldRequest {
  /** The request as it came, its event id included (agreeing twice still makes one job); photos apart. */
  request: Omit<Request, 'photos'>;
  /** Its photos by the adapter's handle (never the bytes): read again when it runs. */
  photos: Array<{ label: string; declaredBytes?: number; ref: PhotoRef }>;
}

/** Where held requests wait: one per person and platform, for 15 minutes; a newer one replaces it. */
export interface HeldRequests {
  hold(held: HeldRequest): Promise<void>;
  /** The request that waited for this person's consent, handed out once. */
  take(platform: Platform, userId: string): Promise<HeldRequest | undefined>;
}

const HELD_TTL_S = 15 * 60;

/** Held requests in Redis, under `namespace` (e.g. `likeness:held`). */
export function createRedisHeldRequests(redis: Redis, namespace: string): HeldRequests {
  const key = (platform: string, userId: string) => `${namespace}:${platform}:${userId}`;
  return {
    hold: async (held) => void (await redis.set(key(held.request.platform, held.request.user.id), JSON.stringify(held), 'EX', HELD_TTL_S)),
    async take(platform, userId) {
      const raw = await redis.getdel(key(platform, userId));
      return raw ? (JSON.parse(raw) as HeldRequest) : undefined;
    },
  };
}

/** The same in this process's memory, for tests. */
export function createMemoryHeldRequests(): HeldRequests {
  const held = new Map<string, HeldRequest>();
  return {
    async hold(request) {
      held.set(`${request.request.platform}:${request.request.user.id}`, structuredClone(request));
    },
    async take(platform, userId) {
      const found = held.get(`${platform}:${userId}`);
      held.delete(`${platform}:${userId}`);
      return found;
    },
  };
}
