import type { Deliverer } from '../bots/core/deliverer.js';
import { failedReply, progressReply, succeededReply } from '../bots/core/job-updates.js';
import type { Db } from '../db/client.js';
import { getJob, markDelivered } from '../db/jobs.repository.js';
import { resultsOfJob } from '../db/results.repository.js';
import type { StyleCatalog } from '../gpu/styles.js';
import type { Logger } from '../logger.js';
import type { DeliveryJobData } from './job-schemas.js';

export interface DeliveryHandlerDeps {
  db: Db;
  styles: StyleCatalog;
  /** By platform: the deliverers this process can speak for. */
  deliverers: ReadonlyMap<string, Deliverer>;
  logger: Logger;
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

  const deliverer = deps.deliverers.get(job.conversation.platform);
  if (!deliverer) throw new NoDelivererError(job.conversation.platform);

  if (data.event === 'started') {
    await deliverer.deliver(job.conversation, progressReply(job), 'progress', job.id);
    return 'delivered';
  }
  const reply = data.event === 'succeeded' ? succeededReply(job, results, deps.styles) : failedReply(job);
  const posted = await deliverer.deliver(job.conversation, reply, 'final', job.id);
  const shown = (reply.images ?? []).flatMap((image, i) => {
    const messageId = posted.imageMessageIds[i];
    return image.resultId && messageId ? [{ resultId: image.resultId, messageId }] : [];
  });
  await markDelivered(deps.db, job.id, shown);
  deps.logger.info({ jobId: job.id, event: data.event, platform: job.conversation.platform }, 'delivered');
  return 'delivered';
}
