import { sql, type SQL } from 'drizzle-orm';
import type { Db } from './client.js';
import { jobs, results } from './schema.js';

/** A job whose stored input photos are due for deletion. */
export interface JobToPurge {
  id: string;
  /** The artifact keys the job read (its own `inputs/<id>/…`, or a parent's keys for re-rolls and upscales). */
  inputs: string[];
  status: string;
}

/** A result whose stored image is due for deletion. */
export interface ResultToPurge {
  id: string;
  jobId: string;
  artifactKey: string;
}

/** Deletes the files of a claimed batch; throwing leaves the whole batch unmarked, to be tried again. */
export type PurgeFiles<T> = (batch: T[]) => Promise<void>;

// A job still queued or running may be reading these very keys (a re-roll reads its parent's photos,
// an upscale its parent's result): such keys wait for the next run.
const notReadByActiveJob = (key: SQL) =>
  sql`not exists (select 1 from ${jobs} a where a.status in ('queued', 'running') and a.inputs @> jsonb_build_array(${key}))`;

/**
 * Claims up to `limit` rows, lets `purge` delete their files, then marks the rows, in one transaction.
 * Rows are claimed `for update skip locked`, so two processes running this at once take different
 * rows and neither waits; a crash or a failed purge rolls back and leaves the rows for the next run.
 */
async function purgeBatch<T extends { id: string }>(db: Db, claim: SQL, mark: (ids: string[]) => SQL, purge: PurgeFiles<T>): Promise<number> {
  return db.transaction(async (tx) => {
    const rows = (await tx.execute(claim)).rows as unknown as T[];
    if (rows.length === 0) return 0;
    await purge(rows);
    await tx.execute(mark(rows.map((r) => r.id)));
    return rows.length;
  });
}

const idArray = (ids: string[]) => sql`${`{${ids.join(',')}}`}::uuid[]`;

/**
 * One batch of input retention: finished jobs made before `cutoff` whose input photos are still
 * stored get `purge`d and then `inputs_purged_at` set. The job rows themselves stay (usage).
 */
export function purgeExpiredInputsBatch(db: Db, cutoff: Date, limit: number, purge: PurgeFiles<JobToPurge>): Promise<number> {
  return purgeBatch<JobToPurge>(
    db,
    sql`select j.id, j.inputs, j.status from ${jobs} j
        where j.inputs_purged_at is null and j.created_at < ${cutoff.toISOString()}::timestamptz
          and j.status not in ('queued', 'running') and ${notReadByActiveJob(sql`j.inputs->>0`)}
        order by j.created_at limit ${limit}
        for update of j skip locked`,
    (ids) => sql`update ${jobs} set inputs_purged_at = now() where id = any(${idArray(ids)})`,
    purge,
  );
}

/**
 * One batch of output retention: results made before `cutoff` whose image is still stored get
 * `purge`d and then `purged_at` set. The result rows stay (size, dimensions: usage).
 */
export function purgeExpiredResultsBatch(db: Db, cutoff: Date, limit: number, purge: PurgeFiles<ResultToPurge>): Promise<number> {
  return purgeBatch<ResultToPurge>(
    db,
    sql`select r.id, r.job_id as "jobId", r.artifact_key as "artifactKey" from ${results} r
        where r.purged_at is null and r.created_at < ${cutoff.toISOString()}::timestamptz and ${notReadByActiveJob(sql`r.artifact_key`)}
        order by r.created_at limit ${limit}
        for update of r skip locked`,
    (ids) => sql`update ${results} set purged_at = now() where id = any(${idArray(ids)})`,
    purge,
  );
}

/**
 * One batch of the /forget safety net: jobs detached from any account (forgotten) whose files are
 * not yet known to be deleted get `purge`d (every file under the job's folders) and then marked.
 * /forget deletes the files itself; this finishes the work when the store failed it then.
 */
export function purgeDetachedJobsBatch(db: Db, limit: number, purge: PurgeFiles<{ id: string }>): Promise<number> {
  return purgeBatch<{ id: string }>(
    db,
    sql`select j.id from ${jobs} j where j.account_id is null and j.inputs_purged_at is null
        limit ${limit} for update of j skip locked`,
    (ids) => sql`update ${jobs} set inputs_purged_at = now() where id = any(${idArray(ids)})`,
    purge,
  );
}

/** Records that the files of these detached (forgotten) jobs are deleted. */
export async function markDetachedJobsPurged(db: Db, jobIds: string[]): Promise<void> {
  if (jobIds.length === 0) return;
  await db.execute(sql`update ${jobs} set inputs_purged_at = now() where id = any(${idArray(jobIds)}) and account_id is null`);
}
