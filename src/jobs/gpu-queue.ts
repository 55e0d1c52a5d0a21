import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { publishCancel } from './gpu-cancel.js';
import { GPU_PRIORITY, GPU_QUEUE, gpuJobData, type GpuJobName } from './job-schemas.js';

/** The command layer's view of the `gpu` queue. Enqueueing the same job id twice is a no-op. */
export interface GpuQueue {
  /** Adds the job (a no-op when it is already there) and returns its place in line right after. */
  enqueue(name: GpuJobName, jobId: string): Promise<number>;
  /** 1-based place in line of a waiting job (jobs ahead + 1); 0 once it runs or is gone. */
  position(jobId: string): Promise<number>;
  /** Removes a job that has not started; false when it is running or gone. */
  remove(jobId: string): Promise<boolean>;
  /** Asks whichever worker runs the job to abort it (its status must already say cancelled). */
  cancelRunning(jobId: string): Promise<void>;
  /** Whether the queue still holds the job for a worker (waiting, delayed or running), or has let it go. */
  holds(jobId: string): Promise<boolean>;
  /** Workers listening on the queue (at least 1, for estimates). */
  workers(): Promise<number>;
  close(): Promise<void>;
}

export interface GpuQueueOptions {
  /** A producer connection: it also publishes cancellations. */
  connection: Redis;
  prefix: string;
  attempts: number;
  backoffMs?: number;
}

export function createGpuQueue(options: GpuQueueOptions): GpuQueue & { queue: Queue } {
  const queue = new Queue(GPU_QUEUE, {
    connection: options.connection,
    prefix: options.prefix,
    defaultJobOptions: {
      attempts: options.attempts,
      backoff: { type: 'exponential', delay: options.backoffMs ?? 2_000 },
      removeOnComplete: { age: 24 * 3600, count: 5_000 },
      removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
    },
  });
  let workerCache = { at: 0, count: 1 };

  return {
    queue,
    async enqueue(name, jobId) {
      const priority = GPU_PRIORITY[name];
      await queue.add(name, gpuJobData.parse({ jobId }), { jobId, priority });
      // Just added, so it waits behind everything of its priority or better: count those.
      if (priority <= GPU_PRIORITY.upscale) return (await queue.getCountsPerPriority([priority]))[String(priority)] ?? 1;
      const counts = await queue.getJobCounts('wait', 'prioritized');
      return (counts.wait ?? 0) + (counts.prioritized ?? 0);
    },
    async position(jobId) {
      const job = await queue.getJob(jobId);
      if (!job) return 0;
      const state = await job.getState();
      if (state !== 'waiting' && state !== 'prioritized' && state !== 'delayed') return 0;
      // Jobs of the same or a better priority that were added earlier wait ahead of this one.
      const counts = await queue.getJobCounts('wait', 'prioritized');
      const ahead = job.opts.priority && job.opts.priority <= GPU_PRIORITY.upscale ? 0 : (counts.wait ?? 0) + (counts.prioritized ?? 0) - 1;
      return Math.max(0, ahead) + 1;
    },
    async holds(jobId) {
      const state = await queue.getJobState(jobId);
      return state !== 'unknown' && state !== 'completed' && state !== 'failed';
    },
    async remove(jobId) {
      const job = await queue.getJob(jobId);
      if (!job) return false;
      try {
        await job.remove();
        return true;
      } catch {
        return false; // locked by a worker: it is running
      }
    },
    async cancelRunning(jobId) {
      await publishCancel(options.connection, options.prefix, jobId);
    },
    async workers() {
      if (Date.now() - workerCache.at > 10_000) {
        const count = await queue.getWorkersCount().catch(() => 1);
        workerCache = { at: Date.now(), count: Math.max(1, count) };
      }
      return workerCache.count;
    },
    close: () => queue.close(),
  };
}
