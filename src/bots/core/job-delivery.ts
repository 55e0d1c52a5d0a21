import type { StyleCatalog } from '../../gpu/styles.js';
import type { DeliveryEvent } from '../../jobs/job-schemas.js';
import type { Logger } from '../../logger.js';
import { UndeliverableError, type ChatPort } from './deliverer.js';
import { failedReply, progressReply, succeededReply } from './job-updates.js';
import type { Conversation, Job } from './model.js';
import { info, type Reply } from './reply.js';
import type { Repositories } from './repositories.js';
import { DONE_PRIVATELY_TEXT, DONE_TEXT, undeliverableText } from './status-text.js';

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
  /** An outcome that can never reach its chat: refunded, recorded and, where possible, told. */
  jobUndeliverable?(failure: { platform: string; reason: string }): void;
}

export interface JobDeliveryDeps {
  repos: Pick<Repositories, 'jobs' | 'results'>;
  styles: StyleCatalog;
  /** By platform: the chats this process can speak for. */
  chats: ReadonlyMap<string, ChatPort>;
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

export type DeliveryOutcome = 'delivered' | 'skipped' | 'undeliverable';

/** Raised when no chat here serves the job's platform: another process (or a later start) must. */
export class NoDelivererError extends Error {
  constructor(readonly platform: string) {
    super(`no deliverer for platform ${platform} in this process`);
    this.name = 'NoDelivererError';
  }
}

/**
 * Tells a job's conversation what happened to it: "working on it" on the status message, then the
 * outcome (pictures, or why not and the refund) and "done". The outcome is sent at most once per
 * job as far as our records go (`delivered_at`); each picture's message is recorded the moment it
 * is posted. A chat that will never take the outcome ends it here: refunded once, the reason
 * recorded, the person told any way left. Any other failure throws, and the queue retries.
 */
export async function deliverJobEvent(deps: JobDeliveryDeps, data: { jobId: string; event: DeliveryEvent }): Promise<DeliveryOutcome> {
  const { repos } = deps;
  // The results are read beside the job, not after it: one round trip of latency instead of two.
  const [job, results] = await Promise.all([repos.jobs.get(data.jobId), data.event === 'succeeded' ? repos.results.ofJob(data.jobId) : []]);
  if (!job?.conversation) return 'skipped'; // forgotten, or never had a conversation
  if (data.event !== 'started' && job.deliveredAt) return 'skipped';
  if (data.event === 'started' && job.status !== 'running') return 'skipped'; // the outcome is already on its way

  const { conversation } = job;
  const platform = conversation.platform;
  const chat = deps.chats.get(platform);
  if (!chat) throw new NoDelivererError(platform);
  const logger = deps.logger.child({ jobId: job.id, platform });

  if (data.event === 'started') {
    // A courtesy: a status that cannot be updated never fails the work.
    await chat.status.edit(conversation, progressReply(job), { stage: 'progress', jobId: job.id, jobKind: job.kind }).catch((error: unknown) => logger.warn({ err: error }, 'could not update the status message'));
    return 'delivered';
  }
  try {
    const reply = data.event === 'succeeded' ? succeededReply(job, results, deps.styles) : failedReply(job);
    await postOutcome(deps, chat, conversation, reply, job.id, logger);
    await repos.jobs.markDelivered(job.id);
  } catch (error) {
    if (error instanceof UndeliverableError) {
      await endUndeliverable(deps, chat, job, error.reason);
      return 'undeliverable';
    }
    deps.observer?.deliveryFailed?.({ platform, event: data.event });
    throw error;
  }
  // Housekeeping only: a failure here must not send the outcome again.
  await chat.settled?.(job.id).catch((error: unknown) => logger.warn({ err: error }, 'delivery state not cleared; it expires by itself'));
  deps.observer?.jobDelivered?.(deliveredJobOf(job, platform));
  logger.info({ event: data.event }, 'delivered');
  return 'delivered';
}

/** The outcome on the chat: pictures (recorded as each is posted) and "done" on the status, or the words alone in place of the status. */
async function postOutcome(deps: JobDeliveryDeps, chat: ChatPort, conversation: Conversation, reply: Reply, jobId: string, logger: Logger): Promise<void> {
  const images = reply.images ?? [];
  if (images.length === 0) {
    const context = { stage: 'outcome', jobId } as const;
    if (!(await chat.status.edit(conversation, reply, context))) await chat.status.post(conversation, reply, context);
    return;
  }
  const { privately } = await chat.postResults(conversation, reply, jobId, async (index, messageKey) => {
    const resultId = images[index]?.resultId;
    if (resultId) await deps.repos.results.recordShown(resultId, messageKey);
  });
  await chat.status
    .edit(conversation, info(privately ? DONE_PRIVATELY_TEXT : DONE_TEXT), { stage: 'done', jobId })
    .catch((error: unknown) => logger.warn({ err: error }, 'could not update the status message'));
}

/**
 * An outcome that can never reach its chat (blocked, removed, no right to post, or every attempt
 * spent): what was charged for it is refunded once, why is recorded, and the person is told by
 * any way left. Safe to repeat: the refund and the record happen once, and a delivered job is
 * skipped before it comes here again.
 */
async function endUndeliverable(deps: JobDeliveryDeps, chat: ChatPort | undefined, job: Job, reason: string): Promise<void> {
  const refunded = job.status === 'succeeded' ? await deps.repos.jobs.refundSucceeded(job.id) : 0;
  await deps.repos.jobs.markUndeliverable(job.id, reason);
  const told = job.conversation && chat?.tellPrivately ? await chat.tellPrivately(job.conversation, undeliverableText(refunded)).catch(() => false) : false;
  deps.observer?.jobUndeliverable?.({ platform: job.conversation?.platform ?? 'unknown', reason });
  deps.logger.warn({ jobId: job.id, reason, refunded, told }, 'outcome can never reach its chat: refunded and recorded');
}

/**
 * The delivery queue spent every attempt on a job's outcome (a platform failing for a long while):
 * it is treated like a chat that will never take it, rather than forgotten with the job charged.
 */
export async function deliveryGivenUp(deps: JobDeliveryDeps, jobId: string, lastError: unknown): Promise<void> {
  const job = await deps.repos.jobs.get(jobId);
  if (!job?.conversation || job.deliveredAt) return;
  const why = lastError instanceof Error ? lastError.message.split('\n')[0]!.slice(0, 200) : 'unknown error';
  await endUndeliverable(deps, deps.chats.get(job.conversation.platform), job, `delivery attempts exhausted: ${why}`);
}
