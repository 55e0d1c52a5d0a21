import { and, asc, eq, isNull } from 'drizzle-orm';
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

/** Remembers which platform message shows a result, as soon as it is posted, so a reaction on it finds it. */
export async function setResultMessage(db: DbOrTx, resultId: string, platformMessageId: string): Promise<void> {
  await db.update(results).set({ platformMessageId }).where(eq(results.id, resultId));
}

/** The results a platform message shows, in variant order. */
export async function findResultsByMessage(db: DbOrTx, platformMessageId: string): Promise<Result[]> {
  return db.select().from(results).where(eq(results.platformMessageId, platformMessageId)).orderBy(asc(results.variant));
}

/** `results/<job uuid>/…`: the only keys a download link may serve (never `inputs/…`). */
const RESULT_KEY = /^results\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\//;

/**
 * Whether `artifactKey` may be offered as a download: it is the key of a result row that retention
 * has not purged, of a job that still exists (/forget removes the rows). Input photos and any key
 * no result names are never downloadable, whoever signed the link.
 */
export async function isDownloadableResult(db: DbOrTx, artifactKey: string): Promise<boolean> {
  const jobId = RESULT_KEY.exec(artifactKey)?.[1];
  if (!jobId) return false;
  const [row] = await db
    .select({ id: results.id })
    .from(results)
    .innerJoin(jobs, eq(jobs.id, results.jobId))
    .where(and(eq(results.jobId, jobId), eq(results.artifactKey, artifactKey), isNull(results.purgedAt)))
    .limit(1);
  return row !== undefined;
}
