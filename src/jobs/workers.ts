import { DelayedError, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { databaseAnswers, type Db } from '../db/client.js';
import type { Logger } from '../logger.js';
import { handleGpuJob, recordGivenUp, type GpuHandlerDeps } from './gpu.handler.js';
import { DELIVERY_QUEUE, GPU_JOB_NAMES, GPU_QUEUE, deliveryJobData, gpuJobData, type DeliveryJobData } from './job-schemas.js';

/** A running queue worker, as the rest of the app sees it. */
export type QueueWorker = Pick<Worker, 'close' | 'name' | 'isRunning'>;

export interface WorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
  /** How long a job stays locked without a heartbeat: after a crash it runs again this much later. */
  lockMs?: number;
  logger: Logger;
}

function baseOptions(options: WorkerOptions) {
  const lockDuration = options.lockMs ?? 30_000;
  return {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    lockDuration,
    stalledInterval: Math.max(500, Math.floor(lockDuration / 2)),
    // A job whose worker died is re-run; one that kills workers again and again is failed for good.
    maxStalledCount: 3,
  };
}

function watch(worker: Worker, logger: Logger): Worker {
  // Without an 'error' listener a lost Redis connection would crash the process.
  worker.on('error', (error) => logger.error({ err: error, queue: worker.name }, 'worker error'));
  worker.on('failed', (job: Job | undefined, error) => logger.warn({ err: error, bullJobId: job?.id, queue: worker.name, attemptsMade: job?.attemptsMade }, 'queue job failed'));
  worker.on('stalled', (jobId) => logger.warn({ bullJobId: jobId, queue: worker.name }, 'job stalled; it will run again'));
  return worker;
}

/** How long a job waits before it runs again while Postgres does not answer. */
const OUTAGE_DELAY_MS = 2_000;

/**
 * Runs a handler; when it fails while Postgres does not answer, the job waits OUTAGE_DELAY_MS and
 * runs again without spending one of its attempts: a database outage is not the job's fault, and
 * a job that gave up during one could not even record that it did (it would stay "running",
 * its credits held, until the reconciler found it minutes later).
 */
async function waitingOutDatabaseOutages<T>(job: Job, token: string | undefined, db: Db, logger: Logger, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!token || (await databaseAnswers(db))) throw error;
    await job.moveToDelayed(Date.now() + OUTAGE_DELAY_MS, token);
    logger.warn({ err: error, bullJobId: job.id, queue: job.queueName }, 'database unavailable; the job waits and runs again');
    throw new DelayedError();
  }
}

/** The `gpu` worker: parses each job's data before the handler sees it; bad payloads are not retried. */
export function startGpuWorker(options: WorkerOptions, deps: GpuHandlerDeps): Worker {
  const worker = new Worker(
    GPU_QUEUE,
    async (job: Job, token?: string, signal?: AbortSignal) => {
      if (!(GPU_JOB_NAMES as readonly string[]).includes(job.name)) throw new UnrecoverableError(`unknown gpu job name ${job.name}`);
      const data = gpuJobData.safeParse(job.data);
      if (!data.success) throw new UnrecoverableError(`invalid gpu job data: ${data.error.message}`);
      const isFinal = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      return waitingOutDatabaseOutages(job, token, deps.db, options.logger, () =>
        handleGpuJob(deps, data.data.jobId, { isFinal, signal: signal ?? new AbortController().signal }),
      );
    },
    baseOptions(options),
  );
  worker.on('failed', (job: Job | undefined, error) => {
    const exhausted = job && (error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1));
    const jobId = gpuJobData.safeParse(job?.data);
    if (!exhausted || !jobId.success) return;
    recordGivenUp(deps, jobId.data.jobId).catch((err: unknown) => options.logger.error({ err, jobId: jobId.data.jobId }, 'could not record a given-up job'));
  });
  return watch(worker, options.logger);
}

/** What the delivery worker runs: the command layer's delivery of a job event, and what to do when a job's attempts are spent. */
export interface DeliveryWorkerDeps {
  db: Db;
  deliver(data: DeliveryJobData): Promise<unknown>;
  /** The last attempt of a final outcome's delivery failed: the job must not stay charged and untold. */
  givenUp?(data: DeliveryJobData, error: Error): Promise<void>;
}

/** The `delivery` worker: runs in the process that holds the platform tokens. */
export function startDeliveryWorker(options: WorkerOptions, deps: DeliveryWorkerDeps): Worker {
  const worker = new Worker(
    DELIVERY_QUEUE,
    async (job: Job, token?: string) => {
      const data = deliveryJobData.safeParse(job.data);
      if (!data.success) throw new UnrecoverableError(`invalid delivery job data: ${data.error.message}`);
      return waitingOutDatabaseOutages(job, token, deps.db, options.logger, () => deps.deliver(data.data));
    },
    baseOptions(options),
  );
  worker.on('failed', (job: Job | undefined, error) => {
    const data = deliveryJobData.safeParse(job?.data);
    const exhausted = job && job.attemptsMade >= (job.opts.attempts ?? 1);
    if (!exhausted || !data.success || data.data.event === 'started' || !deps.givenUp) return;
    deps.givenUp(data.data, error).catch((err: unknown) => options.logger.error({ err, jobId: data.data.jobId }, 'could not record a given-up delivery'));
  });
  return watch(worker, options.logger);
}
