import type { Db } from '../db/client.js';
import { quietActiveJobs } from '../db/jobs.repository.js';
import type { Logger } from '../logger.js';
import type { DeliveryQueue } from './delivery-queue.js';
import { recordGivenUp } from './gpu.handler.js';
import type { GpuQueue } from './gpu-queue.js';

export interface ReconcileDeps {
  db: Db;
  gpuQueue: Pick<GpuQueue, 'holds' | 'enqueue'>;
  delivery: Pick<DeliveryQueue, 'notify'>;
  logger: Logger;
}

/**
 * Mends jobs the database and the queue disagree on, so no reservation is held forever:
 * a `queued` job the queue lost (a crash between the insert and the add) is queued again; a
 * `running` job the queue let go of (BullMQ fails a job that stalls more than maxStalledCount
 * times without telling any worker) is failed, refunded and its chat told. Only jobs quiet for
 * `olderThanMs` are looked at. Safe to run in every worker at once: each fix is conditional.
 */
export async function reconcileJobs(deps: ReconcileDeps, olderThanMs: number): Promise<{ requeued: number; failed: number }> {
  const stale = await quietActiveJobs(deps.db, olderThanMs);
  let requeued = 0;
  let failed = 0;
  for (const job of stale) {
    if (await deps.gpuQueue.holds(job.id)) continue;
    if (job.status === 'queued') {
      await deps.gpuQueue.enqueue(job.kind, job.id);
      requeued += 1;
    } else {
      await recordGivenUp({ db: deps.db, delivery: deps.delivery }, job.id);
      failed += 1;
    }
  }
  if (requeued + failed > 0) deps.logger.warn({ requeued, failed }, 'reconciled jobs the queue had lost');
  return { requeued, failed };
}
