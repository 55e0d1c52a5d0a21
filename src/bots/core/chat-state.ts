import type { Redis } from 'ioredis';
import { setHashFieldDurably } from '../../jobs/keep-trying.js';

/**
 * What every chat front-end keeps between processes besides its own platform's facts: which steps
 * of a delivery are done (so a retried delivery resumes instead of repeating), and a first photo
 * request that waits while its person reads the terms. `H` is the platform's held request.
 */
export interface ChatState<H> {
  /** Steps of a job's delivery already done (e.g. `media` → message ids). */
  deliverySteps(jobId: string): Promise<Record<string, string>>;
  /** Written even through a brief Redis outage: the message it records is already out. */
  recordDeliveryStep(jobId: string, step: string, value: string): Promise<void>;
  /** Drops a delivered job's steps. */
  forgetDeliverySteps(jobId: string): Promise<void>;
  /** Keeps a request that waited for the terms, for 15 minutes; a newer one replaces it. */
  holdForConsent(userId: string, held: H): Promise<void>;
  /** The request that waited for this user's consent, handed out once. */
  takeHeldForConsent(userId: string): Promise<H | undefined>;
}

/** Delivery steps outlive any retry of their delivery (about 17 minutes) by far; settled ones are deleted. */
const STEPS_TTL_S = 24 * 3600;
const HELD_TTL_S = 15 * 60;

/** The state in Redis; `key` places each key under the front-end's namespace. */
export function createRedisChatState<H>(redis: Redis, key: (...parts: string[]) => string): ChatState<H> {
  return {
    deliverySteps: (jobId) => redis.hgetall(key('delivery', jobId)),
    recordDeliveryStep: (jobId, step, value) => setHashFieldDurably(redis, key('delivery', jobId), step, value, STEPS_TTL_S),
    forgetDeliverySteps: async (jobId) => void (await redis.del(key('delivery', jobId))),
    holdForConsent: async (userId, held) => void (await redis.set(key('held', userId), JSON.stringify(held), 'EX', HELD_TTL_S)),
    async takeHeldForConsent(userId) {
      const raw = await redis.getdel(key('held', userId));
      return raw ? (JSON.parse(raw) as H) : undefined;
    },
  };
}

/** The same state in this process's memory, for tests. */
export function createMemoryChatState<H>(): ChatState<H> {
  const steps = new Map<string, Record<string, string>>();
  const held = new Map<string, H>();
  return {
    deliverySteps: async (jobId) => ({ ...steps.get(jobId) }),
    async recordDeliveryStep(jobId, step, value) {
      steps.set(jobId, { ...steps.get(jobId), [step]: value });
    },
    async forgetDeliverySteps(jobId) {
      steps.delete(jobId);
    },
    async holdForConsent(userId, request) {
      held.set(userId, structuredClone(request));
    },
    async takeHeldForConsent(userId) {
      const request = held.get(userId);
      held.delete(userId);
      return request;
    },
  };
}
