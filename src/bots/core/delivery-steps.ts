import type { Redis } from 'ioredis';
import { setHashFieldDurably } from '../../jobs/keep-trying.js';

/**
 * What every chat front-end keeps between processes besides its own platform's facts: which steps
 * of a delivery are done, so a retried delivery resumes instead of repeating.
 */
export interface DeliverySteps {
  /** Steps of a job's delivery already done (e.g. `media` → message ids). */
  deliverySteps(jobId: string): Promise<Record<string, string>>;
  /** Written even through a brief Redis outage: the message it records is already out. */
  recordDeliveryStep(jobId: string, step: string, value: string): Promise<void>;
  /** Drops a delivered job's steps. */
  forgetDeliverySteps(jobId: string): Promise<void>;
}

/** Delivery steps outlive any retry of their delivery (about 17 minutes) by far; settled ones are deleted. */
const STEPS_TTL_S = 24 * 3600;

/** The state in Redis; `key` places each key under the front-end's namespace. */
export function createRedisDeliverySteps(redis: Redis, key: (...parts: string[]) => string): DeliverySteps {
  return {
    deliverySteps: (jobId) => redis.hgetall(key('delivery', jobId)),
    recordDeliveryStep: (jobId, step, value) => setHashFieldDurably(redis, key('delivery', jobId), step, value, STEPS_TTL_S),
    forgetDeliverySteps: async (jobId) => void (await redis.del(key('delivery', jobId))),
  };
}

/** The same state in this process's memory, for tests. */
export function createMemoryDeliverySteps(): DeliverySteps {
  const steps = new Map<string, Record<string, string>>();
  return {
    deliverySteps: async (jobId) => ({ ...steps.get(jobId) }),
    async recordDeliveryStep(jobId, step, value) {
      steps.set(jobId, { ...steps.get(jobId), [step]: value });
    },
    async forgetDeliverySteps(jobId) {
      steps.delete(jobId);
    },
  };
}
