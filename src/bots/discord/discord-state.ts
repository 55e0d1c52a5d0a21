import type { Redis } from 'ioredis';
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

/** Wraps a Redis failure: ioredis errors carry the command's arguments, and one of them may be a token. */
function stateError(error: unknown): Error {
  const safe = new Error(`Discord state unavailable: ${(error as Error).message?.split('\n')[0] ?? 'redis error'}`);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(safe, { code });
  safe.name = (error as Error).name === 'MaxRetriesPerRequestError' ? 'MaxRetriesPerRequestError' : 'DiscordStateError';
  return safe;
}

async function guarded<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw stateError(error);
  }
}

/** Every method of `state` with its failures wrapped by {@link stateError}. */
function guardedAll<S extends object>(state: S): S {
  return Object.fromEntries(
    Object.entries(state).map(([name, method]) => [name, (...args: unknown[]) => guarded(() => (method as (...a: unknown[]) => Promise<unknown>)(...args))]),
  ) as S;
}

/** The state in Redis, every key under `namespace` (e.g. `likeness:dc`). `now` is for tests. */
export function createRedisDiscordState(redis: Redis, namespace: string, now: () => number = Date.now): DiscordState {
  const key = (...parts: string[]) => [namespace, ...parts].join(':');
  return {
    rememberInteraction: (interactionId, facts, tokenExpiresAt) =>
      guarded(async () => {
        const facts_ = key('ix', interactionId);
        const tx = redis.multi().hset(facts_, { applicationId: facts.applicationId, attachmentSizeLimit: String(facts.attachmentSizeLimit) }).expire(facts_, WEEK_S);
        const ttl = Math.floor(tokenExpiresAt - now());
        if (ttl > 0) tx.set(key('ix', interactionId, 'token'), facts.token, 'PX', ttl);
        const results = await tx.exec();
        const failed = results?.find(([error]) => error);
        if (failed?.[0]) throw failed[0];
      }),
    interaction: (interactionId) =>
      guarded(async () => {
        // Sent together on one connection: one round trip.
        const [fields, token] = await Promise.all([redis.hgetall(key('ix', interactionId)), redis.get(key('ix', interactionId, 'token'))]);
        if (!fields.applicationId) return undefined;
        return { applicationId: fields.applicationId, attachmentSizeLimit: Number(fields.attachmentSizeLimit), token: token ?? undefined };
      }),
    ...guardedAll(createRedisDeliverySteps(redis, key)),
  };
}
