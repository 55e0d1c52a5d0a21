import { asc, eq } from 'drizzle-orm';
import type { DbOrTx } from './client.js';
import { jobs, results, type Job, type Result } from './schema.js';

export async function resultsOfJob(db: DbOrTx, jobId: string): Promise<Result[]> {
  return db.select().from(results).where(eq(results.jobId, jobId)).orderBy(asc(results.variant));
}

/** A result with the job that made it (for ownership checks and re-use of its inputs). */
export async function getResultWithJob(db: DbOrTx, resultId: string): Promise<{ result: Result; job: Job } | undefined> {
  const [row] = await db.select({ result: results, job: jobs }).from(results).innerJoin(jobs, eq(jobs.id, results.jobId)).where(eq(results.id, resultId));
  return row;
}

/** Remembers which platform message shows a result, so a reaction on it can find it. */
export async function setResultMessage(db: DbOrTx, resultId: string, platformMessageId: string): Promise<void> {
  await db.update(results).set({ platformMessageId }).where(eq(results.id, resultId));
}

/**
 * The results a platform message shows. A reaction can land in the instant between the message
 * being posted and its id being recorded, so with `retries` an empty answer is asked again.
 */
export async function findResultsByMessage(db: DbOrTx, platformMessageId: string, options: { retries?: number; delayMs?: number } = {}): Promise<Result[]> {
  for (let attempt = 0; ; attempt++) {
    const found = await db.select().from(results).where(eq(results.platformMessageId, platformMessageId)).orderBy(asc(results.variant));
    if (found.length > 0 || attempt >= (options.retries ?? 0)) return found;
    await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 200));
  }
}
