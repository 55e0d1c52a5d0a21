import type { Db } from '../db/client.js';
import { claimJob, completeJob, endJobWithRefund, getJob, type StoredOutput } from '../db/jobs.repository.js';
import { isAppError } from '../errors.js';
import type { GpuBackend } from '../gpu/backend.js';
import type { StyleCatalog } from '../gpu/styles.js';
import { imageInfo, labelOutput, RECONSTRUCTION_NOTE } from '../images/index.js';
import type { Logger } from '../logger.js';
import { resultKey, type ArtifactStore } from '../storage/artifact-store.js';
import type { DeliveryQueue } from './delivery-queue.js';
import { taskForJob } from './gpu-task.js';

export interface GpuHandlerDeps {
  db: Db;
  store: ArtifactStore;
  backend: GpuBackend;
  styles: StyleCatalog;
  delivery: Pick<DeliveryQueue, 'notify'>;
  logger: Logger;
  /** Also draw a small visible "AI" mark (MARK_OUTPUTS); the XMP label is always written. */
  markOutputs?: boolean;
  /** Tell the chat "working on it" only for jobs that take longer than this (default 1 s); fast ones just arrive. */
  progressNoticeAfterMs?: number;
}

const PROGRESS_NOTICE_AFTER_MS = 1_000;

/** What became of one attempt. Expected outcomes are values; only "try again later" is thrown. */
export type GpuOutcome = 'succeeded' | 'failed' | 'skipped';

export interface Attempt {
  /** No retry follows this attempt: a retryable error now ends the job. */
  isFinal: boolean;
  signal: AbortSignal;
}

/**
 * Runs one `gpu` job: claim, run the backend, store outputs, then record results, status and the
 * commit of the reservation in one transaction. Safe to run again after a crash at any point:
 * outputs are overwritten under the same keys and the database steps are conditional on status.
 */
export async function handleGpuJob(deps: GpuHandlerDeps, jobId: string, attempt: Attempt): Promise<GpuOutcome> {
  const logger = deps.logger.child({ jobId });
  const job = await claimJob(deps.db, jobId, deps.backend.name);
  if (!job) return resendOutcomeIfUndelivered(deps, jobId);
  // Progress is a courtesy: it is sent once per job (the queue drops a repeat) and its failure never fails the work.
  const progressNotice = setTimeout(() => {
    deps.delivery.notify({ jobId, event: 'started' }).catch((error: unknown) => logger.warn({ err: error }, 'could not queue the progress notice'));
  }, deps.progressNoticeAfterMs ?? PROGRESS_NOTICE_AFTER_MS);

  let outputs: StoredOutput[];
  let usage: { model: string; gpuSeconds: number; costUsd: number };
  try {
    const task = await taskForJob(job, deps.store, deps.styles);
    const result = await deps.backend.run(task, attempt.signal);
    // Every output of every backend is labelled as AI-made here, in one place.
    const note = job.kind === 'restore' || job.subject === 'memorial' ? RECONSTRUCTION_NOTE : undefined;
    outputs = await Promise.all(
      result.images.map(async (raw, variant) => {
        const bytes = await labelOutput(raw, { note, mark: deps.markOutputs ?? false });
        const artifactKey = resultKey(jobId, variant);
        await deps.store.put(artifactKey, bytes);
        const { width, height } = await imageInfo(bytes);
        return { variant, artifactKey, width, height, bytes: bytes.byteLength };
      }),
    );
    usage = { model: result.model, gpuSeconds: result.gpuSeconds, costUsd: result.costUsd };
    clearTimeout(progressNotice);
  } catch (error) {
    clearTimeout(progressNotice);
    const retryable = isAppError(error) ? error.retryable : !attempt.signal.aborted;
    if (retryable && !attempt.isFinal) {
      logger.warn({ err: error, attempt: job.attempts }, 'gpu attempt failed; will retry');
      throw error;
    }
    const code = isAppError(error) ? error.code : 'GPU_FAILED';
    logger.warn({ err: error, code }, 'gpu job failed');
    if ((await endJobWithRefund(deps.db, jobId, 'failed', code)) !== undefined) await deps.delivery.notify({ jobId, event: 'failed' });
    return 'failed';
  }

  if (!(await completeJob(deps.db, jobId, outputs, usage))) return 'skipped';
  await deps.delivery.notify({ jobId, event: 'succeeded' });
  logger.info({ model: usage.model, gpuSeconds: usage.gpuSeconds }, 'gpu job succeeded');
  return 'succeeded';
}

/** A crash between "recorded" and "told the user" must not leave the user waiting: tell them now. */
async function resendOutcomeIfUndelivered(deps: GpuHandlerDeps, jobId: string): Promise<GpuOutcome> {
  const job = await getJob(deps.db, jobId);
  if (job && !job.deliveredAt && (job.status === 'succeeded' || job.status === 'failed')) {
    await deps.delivery.notify({ jobId, event: job.status });
  }
  return 'skipped';
}

/**
 * The queue gave up on a job (its last attempt threw, e.g. the database was down when recording the
 * result): end it as failed, refund it and tell the user, so no reservation is held forever.
 */
export async function recordGivenUp(deps: Pick<GpuHandlerDeps, 'db' | 'delivery'>, jobId: string): Promise<void> {
  if ((await endJobWithRefund(deps.db, jobId, 'failed', 'GPU_FAILED')) !== undefined) {
    await deps.delivery.notify({ jobId, event: 'failed' });
  }
}
