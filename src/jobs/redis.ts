import { Redis, type RedisOptions } from 'ioredis';

/**
 * A connection for BullMQ workers: they block on Redis and must wait out an outage
 * (`maxRetriesPerRequest: null`), reconnecting by themselves.
 */
export function createWorkerConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: false });
}

/**
 * A connection for producers (the command layer): when Redis is down a request should fail
 * fast with "temporarily unavailable", not hang with the user waiting.
 */
export function createProducerConnection(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2_000, ...options });
}

/** A Redis failure made safe to log and throw on: ioredis errors carry the command's arguments, and one may be a secret (a token). */
function safeRedisError(error: unknown): Error {
  const safe = new Error(`state unavailable: ${(error as Error).message?.split('\n')[0] ?? 'redis error'}`);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(safe, { code });
  safe.name = (error as Error).name === 'MaxRetriesPerRequestError' ? 'MaxRetriesPerRequestError' : 'StateError';
  return safe;
}

/** Runs a Redis call, its failure replaced by {@link safeRedisError}. */
export async function safeRedisCall<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw safeRedisError(error);
  }
}

/** Every method of a Redis-backed store with its failures made safe (see {@link safeRedisError}). */
export function withSafeRedisErrors<S extends object>(store: S): S {
  return Object.fromEntries(
    Object.entries(store).map(([name, method]) => [name, (...args: unknown[]) => safeRedisCall(() => (method as (...a: unknown[]) => Promise<unknown>)(...args))]),
  ) as S;
}
