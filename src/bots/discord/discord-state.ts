import type { Redis } from 'ioredis';
import { setHashFieldDurably } from '../../jobs/keep-trying.js';

/** An interaction's follow-up credentials and facts, as the deliverer needs them. */
export interface InteractionFacts {
  applicationId: string;
  /** The interaction's `attachment_size_limit`: the largest upload its conversation takes. */
  attachmentSizeLimit: number;
  /** The follow-up token; absent once its time is up (the deliverer then posts as the bot). */
  token?: string;
}

/** A photo request that met the terms card: what "I agree" needs to run it after all. */
export interface HeldRequest {
  /** The slash command's interaction id: its event id, so agreeing twice still makes one job. */
  eventId: string;
  command: 'portrait' | 'restore';
  options: Record<string, string | boolean | undefined>;
  /** The attachments, by Discord CDN URL (they stay readable for hours); read again when it runs. */
  attachments: Array<{ url: string; size: number; name: string; label: string }>;
  private: boolean;
}

/**
 * What the Discord front-end shares between processes (the delivery may run in another process
 * than the one that received the interaction): each interaction's follow-up token, kept only
 * while Discord honours it, and which steps of a delivery are done. Tokens never go to Postgres
 * or the logs; everything here expires by itself.
 */
export interface DiscordState {
  /** Keeps the token until `tokenExpiresAt` (epoch ms) and the other facts for a week. */
  rememberInteraction(interactionId: string, facts: Required<InteractionFacts>, tokenExpiresAt: number): Promise<void>;
  interaction(interactionId: string): Promise<InteractionFacts | undefined>;
  /** Steps of a job's delivery already done (e.g. `message` → its ids), so a retry resumes instead of repeating. */
  deliverySteps(jobId: string): Promise<Record<string, string>>;
  recordDeliveryStep(jobId: string, step: string, value: string): Promise<void>;
  /** Drops a delivered job's steps. */
  forgetDeliverySteps(jobId: string): Promise<void>;
  /** Keeps a request that waited for the terms, for 15 minutes; a newer one replaces it. */
  holdForConsent(userId: string, held: HeldRequest): Promise<void>;
  /** The request that waited for this user's consent, handed out once. */
  takeHeldForConsent(userId: string): Promise<HeldRequest | undefined>;
}

const WEEK_S = 7 * 24 * 3600;
const DAY_S = 24 * 3600;
const HELD_TTL_S = 15 * 60;

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
    deliverySteps: (jobId) => guarded(() => redis.hgetall(key('delivery', jobId))),
    recordDeliveryStep: (jobId, step, value) =>
      guarded(async () => {
        const hash = key('delivery', jobId);
        // The message is already out: losing this record to a Redis blip would send it twice on retry.
        await setHashFieldDurably(redis, hash, step, value, DAY_S);
      }),
    forgetDeliverySteps: (jobId) => guarded(async () => void (await redis.del(key('delivery', jobId)))),
    holdForConsent: (userId, held) => guarded(async () => void (await redis.set(key('held', userId), JSON.stringify(held), 'EX', HELD_TTL_S))),
    takeHeldForConsent: (userId) =>
      guarded(async () => {
        const raw = await redis.getdel(key('held', userId));
        return raw ? (JSON.parse(raw) as HeldRequest) : undefined;
      }),
  };
}

/** The same state in this process's memory, for unit tests. */
export function createMemoryDiscordState(now: () => number = Date.now): DiscordState {
  const interactions = new Map<string, { facts: Required<InteractionFacts>; tokenExpiresAt: number }>();
  const steps = new Map<string, Record<string, string>>();
  const held = new Map<string, HeldRequest>();
  return {
    async rememberInteraction(interactionId, facts, tokenExpiresAt) {
      interactions.set(interactionId, { facts: { ...facts }, tokenExpiresAt });
    },
    async interaction(interactionId) {
      const found = interactions.get(interactionId);
      if (!found) return undefined;
      const { token, ...rest } = found.facts;
      return found.tokenExpiresAt > now() ? { ...rest, token } : rest;
    },
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
