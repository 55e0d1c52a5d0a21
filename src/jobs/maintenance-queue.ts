import { Queue, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { z } from 'zod';
import type { Logger } from '../logger.js';

/** The queue of housekeeping jobs (DESIGN §4 lists the user-facing ones; this one has no user). */
export const MAINTENANCE_QUEUE = 'maintenance';
/** Deletes stored pixels past retention and the files of forgotten jobs. */
export const RETENTION_JOB = 'retention';
/** Its scheduler's id: upserted by every process, so there is one schedule however many start. */
const RETENTION_SCHEDULER = 'retention-hourly';

/** A retention job carries nothing: what is due is read from Postgres when it runs. */
export const retentionJobData = z.object({}).strict();

export interface MaintenanceOptions {
  /** For the queue and its scheduler (a producer connection). */
  connection: ConnectionOptions;
  /** For the worker: a blocking connection of its own. */
  workerConnection: ConnectionOptions;
  prefix: string;
  /** How often retention runs (the scheduler aligns runs to multiples of this). */
  everyMs: number;
  lockMs?: number;
  logger: Logger;
  /** The work of one tick. */
  runRetention: () => Promise<unknown>;
}

/** A started maintenance schedule and worker. */
export interface Maintenance {
  close(): Promise<void>;
}

/**
 * Schedules retention with a BullMQ job scheduler and starts a worker for it. Every process may call
 * this: the scheduler is one per queue (upserted by id) and makes one job per tick, which exactly one
 * worker across the cluster takes. A failed run is not retried; the next tick does the same work.
 */
export async function startMaintenance(options: MaintenanceOptions): Promise<Maintenance> {
  const queue = new Queue(MAINTENANCE_QUEUE, { connection: options.connection, prefix: options.prefix });
  queue.on('error', (error) => options.logger.warn({ err: error }, 'maintenance queue error'));
  try {
    await queue.upsertJobScheduler(
      RETENTION_SCHEDULER,
      { every: options.everyMs },
      { name: RETENTION_JOB, data: {}, opts: { attempts: 1, removeOnComplete: { count: 50 }, removeOnFail: { count: 200 } } },
    );
  } catch (error) {
    await queue.close();
    throw error;
  }

  const worker = new Worker(
    MAINTENANCE_QUEUE,
    async (job: Job) => {
      if (job.name !== RETENTION_JOB) throw new UnrecoverableError(`unknown maintenance job name ${job.name}`);
      const data = retentionJobData.safeParse(job.data);
      if (!data.success) throw new UnrecoverableError(`invalid maintenance job data: ${data.error.message}`);
      return options.runRetention();
    },
    { connection: options.workerConnection, prefix: options.prefix, concurrency: 1, lockDuration: options.lockMs ?? 30_000 },
  );
  worker.on('error', (error) => options.logger.error({ err: error, queue: MAINTENANCE_QUEUE }, 'worker error'));
  worker.on('failed', (job: Job | undefined, error) => options.logger.warn({ err: error, bullJobId: job?.id, queue: MAINTENANCE_QUEUE }, 'maintenance job failed; the next run tries again'));

  return {
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
