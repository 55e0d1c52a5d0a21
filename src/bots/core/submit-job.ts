import { randomUUID } from 'node:crypto';
import { AppError } from '../../errors.js';
import type { CommandContext } from './context.js';
import type { Job } from './model.js';
import { info } from './reply.js';
import type { Reply } from './reply.js';
import { estimateWaitSeconds, formatDuration } from './wait-estimate.js';

export interface JobSpec {
  kind: Job['kind'];
  idempotencyKey: string;
  price: number;
  /** Written through the kind's schema (`newParams`), so every default is in the row. */
  params: object;
  style?: string;
  subject?: string;
  parentJobId?: string;
  /** Stores the job's inputs and returns their artifact keys; runs only for a new job. */
  prepareInputs: (jobId: string) => Promise<string[]>;
  /** Words for the queued reply, e.g. "Making 4 studio portraits". */
  describe: string;
}

/** Fallback estimates before there is any history, by kind. */
const DEFAULT_SECONDS: Record<Job['kind'], number> = { portrait: 20, restore: 15, upscale: 15 };
const meanCache = new Map<string, { at: number; seconds: number | undefined }>();

async function meanSeconds(ctx: CommandContext, kind: Job['kind']): Promise<number> {
  const cached = meanCache.get(kind);
  if (!cached || Date.now() - cached.at > 30_000) {
    meanCache.set(kind, { at: Date.now(), seconds: await ctx.deps.repos.jobs.recentMeanSeconds(kind) });
  }
  return meanCache.get(kind)?.seconds ?? DEFAULT_SECONDS[kind];
}

/** The "queued — position N, about M s" answer for a job that is waiting or running. */
async function queuedReply(ctx: CommandContext, job: Pick<Job, 'id' | 'kind'>, position: number, describe: string): Promise<Reply> {
  const [workers, mean] = await Promise.all([ctx.deps.gpuQueue.workers(), meanSeconds(ctx, job.kind)]);
  const eta = estimateWaitSeconds(position, workers * ctx.deps.config.gpu.concurrency, mean);
  const where = position > 0 ? `queued — position ${position}` : 'in progress';
  return info(`${describe}: ${where}, about ${formatDuration(eta)}.`, { job: { id: job.id, position, etaSeconds: eta } });
}

/** A redelivered event: the first job's status, and nothing new. */
async function answerExisting(ctx: CommandContext, jobId: string, describe: string): Promise<Reply> {
  const job = await ctx.deps.repos.jobs.get(jobId);
  if (job?.status === 'queued') await ctx.deps.gpuQueue.enqueue(job.kind, job.id); // a no-op unless the first enqueue was lost
  if (job?.status === 'queued' || job?.status === 'running') return queuedReply(ctx, job, await ctx.deps.gpuQueue.position(job.id), describe);
  if (job?.status === 'succeeded') return info('That request is already done; the results were sent above.');
  return info('That request has already ended.');
}

/**
 * Creates, pays for and queues a job, exactly once per idempotency key: a redelivered event gets the
 * first job's status and nothing is reserved twice. Inputs are stored before the credit decision and
 * removed again when it says no.
 */
export async function submitJob(ctx: CommandContext, spec: JobSpec): Promise<Reply> {
  const { repos, store, gpuQueue, config } = ctx.deps;
  const rules = { freeDaily: config.credits.freeDaily, maxActiveJobs: config.credits.maxActiveJobsPerUser };
  // Refuse (or recognise a redelivery) before downloading anything.
  const precheck = await repos.submissions.check(ctx.account.id, spec.idempotencyKey, spec.price, rules, ctx.now);
  if (precheck.existingJobId) return answerExisting(ctx, precheck.existingJobId, spec.describe);

  const jobId = randomUUID();
  const inputs = await spec.prepareInputs(jobId);
  const discardInputs = () => store.deletePrefix(`inputs/${jobId}/`);

  let created: { jobId: string; duplicate: boolean };
  try {
    created = await repos.submissions.create(
      {
        id: jobId,
        accountId: ctx.account.id,
        kind: spec.kind,
        idempotencyKey: spec.idempotencyKey,
        conversation: ctx.request.conversation,
        inputs,
        params: spec.params,
        style: spec.style,
        subject: spec.subject,
        price: spec.price,
        parentJobId: spec.parentJobId,
      },
      rules,
      ctx.now,
    );
  } catch (error) {
    await discardInputs();
    throw error;
  }
  if (created.duplicate) {
    await discardInputs();
    return answerExisting(ctx, created.jobId, spec.describe);
  }

  let position: number;
  try {
    position = await gpuQueue.enqueue(spec.kind, jobId);
  } catch (error) {
    // The queue is unreachable: undo the reservation so nothing is charged for a job that cannot run.
    await repos.jobs.endWithRefund(jobId, 'failed', 'SERVICE_UNAVAILABLE');
    throw new AppError('SERVICE_UNAVAILABLE', 'could not enqueue', { retryable: true, cause: error });
  }
  ctx.logger.info({ jobId, kind: spec.kind, price: spec.price }, 'job queued');
  return queuedReply(ctx, { id: jobId, kind: spec.kind }, position, spec.describe);
}
