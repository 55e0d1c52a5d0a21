import type { Deliverer } from '../bots/core/deliverer.js';
import { failedReply, progressReply, succeededReply } from '../bots/core/job-updates.js';
import type { Db } from '../db/client.js';
import { getJob, markDelivered } from '../db/jobs.repository.js';
import { resultsOfJob } from '../db/results.repository.js';
import type { Job } from '../db/schema.js';
import type { StyleCatalog } from '../gpu/styles.js';
import type { Logger } from '../logger.js';
import type { DeliveryEvent, DeliveryJobData } from './job-schemas.js';

/** A job whose outcome has just reached its conversation, as metrics see it. */
export interface DeliveredJob {
  kind: string;
  outcome: 'succeeded' | 'failed' | 'cancelled';
  platform: string;
  /** From the request to the first GPU attempt; undefined when it never started. */
  queueWaitSeconds?: number;
  /** From the first GPU attempt to the outcome (retries included); undefined when it never started. */
  runSeconds?: number;
}

/**
 * Hooks for the bots process's metrics. The delivery worker sees every finished job of the
 * platforms it serves, so this is where per-job durations are observed. Hooks must not throw.
 */
export interface DeliveryObserver {
  /** Once per job, when its outcome has been delivered and recorded (`delivered_at`). */
  jobDelivered?(job: DeliveredJob): void;
  /** A delivery attempt threw; the queue retries it with backoff until its attempts run out. */
  deliveryFailed?(failure: { platform: string; event: DeliveryEvent }): void;
}

export interface DeliveryHandlerDeps {
  db: Db;
  styles: StyleCatalog;
  /** By platform: the deliverers this process can speak for. */
  deliverers: ReadonlyMap<string, Deliverer>;
  logger: Logger;
  observer?: DeliveryObserver;
}

const secondsBetween = (from: Date | null, to: Date | null): number | undefined => (from && to ? Math.max(0, (to.getTime() - from.getTime()) / 1000) : undefined);

/** What metrics learn from a job row whose outcome was delivered. */
export function deliveredJobOf(job: Pick<Job, 'kind' | 'status' | 'createdAt' | 'startedAt' | 'finishedAt'>, platform: string): DeliveredJob {
  return {
    kind: job.kind,
    outcome: job.status === 'succeeded' || job.status === 'cancelled' ? job.status : 'failed',
    platform,
    queueWaitSeconds: secondsBetween(job.createdAt, job.startedAt),
    runSeconds: secondsBetween(job.startedAt, job.finishedAt),
  };
}

export type DeliveryOutcome = 'delivered' | 'skipped';

/** Raised when no deliverer here serves the job's platform: another process (or a later start) must. */
export class NoDelivererError extends Error {
  constructor(readonly platform: string) {
    super(`no deliverer for platform ${platform} in this process`);
    this.name = 'NoDelivererError';
  }
}

/**
 * Tells a job's conversation what happened. The final message is sent at most once per job as far as
 * our records go (`delivered_at`); a platform failure throws, and the queue retries with backoff.
 */
export async function handleDelivery(deps: DeliveryHandlerDeps, data: DeliveryJobData): Promise<DeliveryOutcome> {
  // The results are read beside the job, not after it: one round trip of latency instead of two.
  const [job, results] = await Promise.all([getJob(deps.db, data.jobId), data.event === 'succeeded' ? resultsOfJob(deps.db, data.jobId) : []]);
  if (!job?.conversation) return 'skipped'; // forgotten, or never had a conversation
  if (data.event !== 'started' && job.deliveredAt) return 'skipped';
  if (data.event === 'started' && job.status !== 'running') return 'skipped'; // the outcome is already on its way

  const { conversation } = job;
  const platform = conversation.platform;
  try {
    const deliverer = deps.deliverers.get(platform);
    if (!deliverer) throw new NoDelivererError(platform);

    if (data.event === 'started') {
      await deliverer.deliver(conversation, progressReply(job), 'progress', job.id);
      return 'delivered';
    }
    const reply = data.event === 'succeeded' ? succeededReply(job, results, deps.styles) : failedReply(job);
    const posted = await deliverer.deliver(conversation, reply, 'final', job.id);
    const shown = (reply.images ?? []).flatMap((image, i) => {
      const messageId = posted.imageMessageIds[i];
      return image.resultId && messageId ? [{ resultId: image.resultId, messageId }] : [];
    });
    await markDelivered(deps.db, job.id, shown);
    // Housekeeping only: a failure here must not send the outcome again.
    await deliverer.settled?.(job.id).catch((error: unknown) => deps.logger.warn({ err: error, jobId: job.id }, 'delivery state not cleared; it expires by itself'));
  } catch (error) {
    deps.observer?.deliveryFailed?.({ platform, event: data.event });
    throw error;
  }
  deps.observer?.jobDelivered?.(deliveredJobOf(job, platform));
  deps.logger.info({ jobId: job.id, event: data.event, platform }, 'delivered');
  return 'delivered';
}
