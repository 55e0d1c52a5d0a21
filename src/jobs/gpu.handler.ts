import type { Db } from '../db/client.js';
import { claimJob, completeJob, endJobWithRefund, getJob, type LikenessRecord, type StoredOutput } from '../db/jobs.repository.js';
import type { Job } from '../db/schema.js';
import { isAppError } from '../errors.js';
import type { GpuBackend, GpuResult, GpuTask } from '../gpu/backend.js';
import { strongerIdentity, type StyleCatalog } from '../gpu/styles.js';
import { imageInfo, labelOutput, readJpegXmp, readProvenance, RECONSTRUCTION_NOTE } from '../images/index.js';
import type { Logger } from '../logger.js';
import { resultKey, resultPrefix, type ArtifactStore } from '../storage/artifact-store.js';
import type { DeliveryQueue } from './delivery-queue.js';
import { taskForJob } from './gpu-task.js';
import { keepTryingWhileDatabaseDown } from './keep-trying.js';
import { createReferenceCache, embedFace, gateApplies, gatePortrait, guardRestore, likenessRefund, type LikenessSettings } from './likeness-gate.js';

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
  /** The likeness gate (LIKENESS_MIN, LIKENESS_RETRIES). Absent, or min 0: nothing is measured. */
  likeness?: LikenessSettings;
}

const PROGRESS_NOTICE_AFTER_MS = 1_000;

/** What became of one attempt. Expected outcomes are values; only "try again later" is thrown. */
export type GpuOutcome = 'succeeded' | 'failed' | 'skipped';

export interface Attempt {
  /** No retry follows this attempt: a retryable error now ends the job. */
  isFinal: boolean;
  signal: AbortSignal;
}

/** How long a job's final write waits for Postgres to come back (within a job lock's time) before the job is retried from the start. */
const COMPLETE_WRITE_BUDGET_MS = 30_000;

/** Reference faces of this process, by input artifact key: a re-roll of the same photos measures them once. */
const referenceFaces = createReferenceCache(embedFace);

/**
 * Runs one `gpu` job: claim, run the backend, measure likeness (portraits and restorations; see
 * likeness-gate.ts), store outputs, then record results, scores, status and the commit of the
 * reservation in one statement. Safe to run again after a crash at any point: outputs are
 * overwritten under the same keys and the database steps are conditional on status.
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
  let likeness: LikenessRecord | undefined;
  try {
    const task = await taskForJob(job, deps.store, deps.styles);
    // The reference photos are measured while the backend works (the GPU is elsewhere, or the local
    // backend is busy in libvips threads); the instant backend answers at once, with placeholders.
    if (deps.likeness && deps.likeness.min > 0 && task.kind !== 'upscale' && deps.backend.name !== 'instant') {
      referenceFaces.faces(job.inputs, task.kind === 'portrait' ? task.photos : [task.photo]).catch(() => undefined);
    }
    const result = await deps.backend.run(task, attempt.signal);
    // Every output of every backend is labelled as AI-made here, once, with what the backend reports.
    const label = { credit: result.credit, note: result.note ?? defaultNote(job, task), mark: deps.markOutputs ?? false };
    const storeOutput = async (raw: Buffer, variant: number): Promise<StoredOutput> => {
      const bytes = await labelOutput(raw, label);
      const artifactKey = resultKey(jobId, variant);
      await deps.store.put(artifactKey, bytes);
      const { width, height } = await imageInfo(bytes);
      return { variant, artifactKey, width, height, bytes: bytes.byteLength };
    };
    // The set is labelled and stored while it is measured; a variant the gate replaces is stored again under its key.
    const [stored, gate] = await Promise.all([
      Promise.all(result.images.map((raw, variant) => storeOutput(raw, variant))),
      measureLikeness(deps, job, task, result, attempt.signal, logger),
    ]);
    outputs = stored;
    for (const variant of gate?.replaced ?? []) outputs[variant] = await storeOutput(gate!.images[variant]!, variant);
    gate?.scores.forEach((score, variant) => {
      if (score !== undefined && outputs[variant]) outputs[variant] = { ...outputs[variant], likenessScore: score };
    });
    likeness = gate?.record;
    const extra = gate?.extra ?? { gpuSeconds: 0, costUsd: 0 };
    // Regenerations cost GPU time that is recorded on the job, never charged: the price was reserved at submission.
    usage = { model: result.model, gpuSeconds: result.gpuSeconds + extra.gpuSeconds, costUsd: result.costUsd + extra.costUsd };
    clearTimeout(progressNotice);
  } catch (error) {
    clearTimeout(progressNotice);
    const retryable = isAppError(error) ? error.retryable : !attempt.signal.aborted;
    if (retryable && !attempt.isFinal) {
      logger.warn({ err: error, attempt: job.attempts }, 'gpu attempt failed; will retry');
      throw error;
    }
    const code = isAppError(error) ? error.code : 'GPU_FAILED';
    if ((await endJobWithRefund(deps.db, jobId, 'failed', code)) !== undefined) {
      logger.warn({ err: error, code }, 'gpu job failed');
      await deps.delivery.notify({ jobId, event: 'failed' });
      return 'failed';
    }
    await discardIfCancelled(deps, jobId);
    return 'skipped';
  }

  // The GPU work is done and paid for: a Postgres outage now is waited out rather than the work redone.
  if (!(await keepTryingWhileDatabaseDown(deps.db, () => completeJob(deps.db, jobId, outputs, usage, likeness), COMPLETE_WRITE_BUDGET_MS))) {
    await discardIfCancelled(deps, jobId);
    return 'skipped';
  }
  await deps.delivery.notify({ jobId, event: 'succeeded' });
  logger.info({ model: usage.model, gpuSeconds: usage.gpuSeconds, likeness: likeness?.summary ?? undefined, scores: outputs.map((o) => o.likenessScore) }, 'gpu job succeeded');
  return 'succeeded';
}

/** Restorations and memorial portraits say they are reconstructions; an 8K version keeps what its source said. */
function defaultNote(job: Pick<Job, 'kind' | 'subject'>, task: GpuTask): string | undefined {
  if (task.kind === 'upscale') return readProvenance(readJpegXmp(task.image)).note ?? (job.subject === 'memorial' ? RECONSTRUCTION_NOTE : undefined);
  return job.kind === 'restore' || job.subject === 'memorial' ? RECONSTRUCTION_NOTE : undefined;
}

/** What the likeness gate did to a job's images. */
interface Measured {
  /** The images to deliver, by variant (the backend's, with replaced variants swapped in). */
  images: Buffer[];
  scores: Array<number | undefined>;
  replaced: number[];
  extra: { gpuSeconds: number; costUsd: number };
  record: LikenessRecord;
}

/** Nothing measured: any summary a re-roll copied from its parent is cleared at completion. */
const UNMEASURED: LikenessRecord = { retries: 0, refund: 0, summary: null };

/**
 * Runs the likeness gate on a portrait set or the guard on a restoration. Undefined for job kinds
 * it does not look at (upscales). A failure to measure (no reference face, a model that will not
 * load) is logged and the images are delivered unmeasured: the gate never costs the user a result.
 * An aborted job rejects.
 */
async function measureLikeness(deps: GpuHandlerDeps, job: Job, task: GpuTask, result: GpuResult, signal: AbortSignal, logger: Logger): Promise<Measured | undefined> {
  if (task.kind === 'upscale') return undefined;
  const unmeasured: Measured = { images: result.images, scores: [], replaced: [], extra: { gpuSeconds: 0, costUsd: 0 }, record: UNMEASURED };
  if (!gateApplies(deps.likeness, job.kind, result)) return unmeasured;
  const settings = deps.likeness!;
  const regenerate = <T extends GpuTask>(again: T) => deps.backend.run(again, signal);
  const onRetryFailed = (error: unknown) => logger.warn({ err: error }, 'likeness regeneration failed; delivering the set as it is');
  try {
    if (task.kind === 'portrait') {
      const references = (await referenceFaces.faces(job.inputs, task.photos)).filter((face) => face !== undefined);
      if (references.length === 0) {
        logger.warn('no face in the reference photos: likeness not measured');
        return unmeasured;
      }
      const style = task.style;
      const gate = await gatePortrait({
        task,
        first: result,
        references,
        settings,
        stronger: (strength) => strongerIdentity(style, strength),
        regenerate,
        embed: embedFace,
        onRetryFailed,
        signal,
      });
      const refund = likenessRefund(job.price, gate.weak.length, gate.images.length);
      return {
        images: gate.images,
        scores: gate.scores,
        replaced: gate.replaced,
        extra: gate.extra,
        record: { retries: gate.retries, refund, summary: { min: settings.min, weak: gate.weak, refunded: refund, retries: gate.retries } },
      };
    }
    const [reference] = await referenceFaces.faces(job.inputs.slice(0, 1), [task.photo]);
    const guard = await guardRestore({ task, first: result, reference, settings, regenerate, embed: embedFace, onRetryFailed, signal });
    return {
      images: [guard.image, ...result.images.slice(1)],
      scores: [guard.score],
      replaced: guard.image === result.images[0] ? [] : [0],
      extra: guard.extra,
      record: {
        retries: guard.retries,
        refund: 0,
        summary: guard.score === undefined ? null : { min: settings.min, weak: guard.drifted ? [0] : [], refunded: 0, retries: guard.retries },
      },
    };
  } catch (error) {
    if (signal.aborted) throw error;
    logger.warn({ err: error }, 'likeness could not be measured; delivering unmeasured');
    return unmeasured;
  }
}

/**
 * A job cancelled while it ran (its requester's /cancel won the race) leaves no files behind.
 * Only then: a job completed by an earlier attempt keeps the outputs its results point at.
 */
async function discardIfCancelled(deps: GpuHandlerDeps, jobId: string): Promise<void> {
  const job = await getJob(deps.db, jobId);
  if (job?.status !== 'cancelled') return;
  await deps.store.deletePrefix(resultPrefix(jobId));
  deps.logger.info({ jobId }, 'gpu job cancelled while running; its outputs were discarded');
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
