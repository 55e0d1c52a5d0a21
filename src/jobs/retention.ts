import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { purgeDetachedJobsBatch, purgeExpiredInputsBatch, purgeExpiredResultsBatch, type JobToPurge } from '../db/retention.repository.js';
import type { Logger } from '../logger.js';
import { resultPrefix, type ArtifactStore } from '../storage/artifact-store.js';
import { DELETE_CONCURRENCY, eraseJobFiles, forEachLimited } from '../storage/job-artifacts.js';

export interface RetentionDeps {
  db: Db;
  store: ArtifactStore;
  retention: Config['retention'];
  logger: Logger;
  /** Rows per transaction (default 500). */
  batchSize?: number;
}

/** What one run deleted: jobs whose inputs went, results whose image went, forgotten jobs whose files went. */
export interface RetentionReport {
  inputs: number;
  results: number;
  detached: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const BATCH_SIZE = 500;

/** Pure: what was made before these moments is due; a category kept forever (0 days) has none. */
export function retentionCutoffs(retention: Config['retention'], now: Date): { inputs?: Date; results?: Date } {
  const before = (days: number) => (days > 0 ? new Date(now.getTime() - days * DAY_MS) : undefined);
  return { inputs: before(retention.inputDays), results: before(retention.outputDays) };
}

/** Runs `batch` until it claims less than a full batch; returns how many rows it handled in all. */
async function drain(size: number, batch: (limit: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const done = await batch(size);
    total += done;
    if (done < size) return total;
  }
}

/** A job's own photos live under `inputs/<id>/`; re-rolls and upscales read other jobs' keys and own none. */
async function deleteInputsOf(store: ArtifactStore, job: JobToPurge): Promise<void> {
  if (job.inputs.some((key) => key.startsWith(`inputs/${job.id}/`))) await store.deletePrefix(`inputs/${job.id}/`);
  // A job that did not succeed has no result rows, but an attempt may have stored some outputs before failing.
  if (job.status !== 'succeeded') await store.deletePrefix(resultPrefix(job.id));
}

/**
 * Deletes stored pixels that are past retention (inputs after `inputDays`, results after
 * `outputDays`; 0 keeps them forever) and the files of forgotten jobs, keeping every row as usage
 * and marking it (`inputs_purged_at`, `purged_at`). Works in batches, each in its own transaction;
 * idempotent, and safe to run in several processes at once (rows are claimed with SKIP LOCKED).
 */
export async function runRetention(deps: RetentionDeps, now: Date = new Date()): Promise<RetentionReport> {
  const { db, store } = deps;
  const size = deps.batchSize ?? BATCH_SIZE;
  const cutoffs = retentionCutoffs(deps.retention, now);
  const report: RetentionReport = { inputs: 0, results: 0, detached: 0 };

  report.detached = await drain(size, (limit) => purgeDetachedJobsBatch(db, limit, (jobs) => eraseJobFiles(store, jobs.map((j) => j.id))));
  const inputsCutoff = cutoffs.inputs;
  if (inputsCutoff) {
    report.inputs = await drain(size, (limit) =>
      purgeExpiredInputsBatch(db, inputsCutoff, limit, (jobs) => forEachLimited(jobs, DELETE_CONCURRENCY, (job) => deleteInputsOf(store, job))),
    );
  }
  const resultsCutoff = cutoffs.results;
  if (resultsCutoff) {
    report.results = await drain(size, (limit) =>
      purgeExpiredResultsBatch(db, resultsCutoff, limit, (results) => forEachLimited(results, DELETE_CONCURRENCY, (r) => store.delete(r.artifactKey))),
    );
  }
  if (report.inputs + report.results + report.detached > 0) deps.logger.info({ ...report }, 'retention deleted stored files');
  return report;
}
