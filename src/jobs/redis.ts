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
