import type { Redis } from 'ioredis';
import { databaseAnswers, type Db } from '../db/client.js';

/**
 * Runs `operation` until it succeeds, waiting a little longer after each failure, for up to
 * `budgetMs`; then the last error is thrown, as is at once any error `retryIf` turns down. For
 * small writes that must not be lost to a brief outage of the store they go to (a record that a
 * message was already sent).
 */
export async function keepTrying<T>(operation: () => Promise<T>, budgetMs: number, firstDelayMs = 100, retryIf: (error: unknown) => Promise<boolean> | boolean = () => true): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let delay = firstDelayMs; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await operation();
    } catch (error) {
      if (Date.now() + delay > deadline || !(await retryIf(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** How long a durable write waits out a Redis outage: about a job lock's time. */
const DURABLE_WRITE_BUDGET_MS = 30_000;

/**
 * Sets one field of a hash (and its expiry) even through a brief Redis outage, for records that
 * must not be lost once written about (a message that went out): a lost one would mean a resend.
 */
export async function setHashFieldDurably(redis: Pick<Redis, 'multi'>, hash: string, field: string, value: string, ttlSeconds: number): Promise<void> {
  await keepTrying(async () => {
    const results = await redis.multi().hset(hash, field, value).expire(hash, ttlSeconds).exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed?.[0]) throw failed?.[0] ?? new Error(`${hash} not written`);
  }, DURABLE_WRITE_BUDGET_MS);
}

/**
 * Runs a database write, and while it fails because Postgres does not answer, runs it again for up
 * to `budgetMs`: for the write that records work already paid for (a job's results after its GPU
 * run), which would otherwise be redone from the start once the database is back. A failure while
 * the database answers is a real one and is thrown at once.
 */
export async function keepTryingWhileDatabaseDown<T>(db: Db, write: () => Promise<T>, budgetMs: number): Promise<T> {
  return keepTrying(write, budgetMs, 200, async () => !(await databaseAnswers(db)));
}
