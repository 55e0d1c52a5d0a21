import type { Redis } from 'ioredis';
import { safeRedisCall, withSafeRedisErrors } from '../../jobs/redis.js';
import { createRedisDeliverySteps, type DeliverySteps } from '../core/delivery-steps.js';

/** An interaction's follow-up credentials and facts, as the deliverer needs them. */
export interface InteractionFacts {
  applicationId: string;
  /** The interaction's `attachment_size_limit`: the largest upload its conversation takes. */
  attachmentSizeLimit: number;
  /** The follow-up token; absent once its time is up (the deliverer then posts as the bot). */
  token?: string;
}

/**
 * What the Discord front-end shares between processes (the delivery may run in another process
 * than the one that received the interaction): each interaction's follow-up token, kept only
 * while Discord honours it, and which steps of a delivery are done. Tokens never go to Postgres
 * or the logs; everything here expires by itself.
 */
export interface DiscordState extends DeliverySteps {
  /** Keeps the token until `tokenExpiresAt` (epoch ms) and the other facts for a week. */
  rememberInteraction(interactionId: string, facts: Required<InteractionFacts>, tokenExpiresAt: number): Promise<void>;
  interaction(interactionId: string): Promise<InteractionFacts | undefined>;
}

const WEEK_S = 7 * 24 * 3600;

/** The state in Redis, every key under `namespace` (e.g. `likeness:dc`). `now` is for tests. */
export function createRedisDiscordState(redis: Redis, namespace: string, now: () => number = Date.now): DiscordState {
  const key = (...parts: string[]) => [namespace, ...parts].join(':');
  return {
    rememberInteraction: (interactionId, facts, tokenExpiresAt) =>
      safeRedisCall(async () => {
        const facts_ = key('ix', interactionId);
        const tx = redis.multi().hset(facts_, { applicationId: facts.applicationId, attachmentSizeLimit: String(facts.attachmentSizeLimit) }).expire(facts_, WEEK_S);
        const ttl = Math.floor(tokenExpiresAt - now());
        if (ttl > 0) tx.set(key('ix', interactionId, 'token'), facts.token, 'PX', ttl);
        const results = await tx.exec();
        const failed = results?.find(([error]) => error);
        if (failed?.[0]) throw failed[0];
      }),
    interaction: (interactionId) =>
      safeRedisCall(async () => {
        // Sent together on one connection: one round trip.
        const [fields, token] = await Promise.all([redis.hgetall(key('ix', interactionId)), redis.get(key('ix', interactionId, 'token'))]);
        if (!fields.applicationId) return undefined;
        return { applicationId: fields.applicationId, attachmentSizeLimit: Number(fields.attachmentSizeLimit), token: token ?? undefined };
      }),
    ...withSafeRedisErrors(createRedisDeliverySteps(redis, key)),
  };
}
