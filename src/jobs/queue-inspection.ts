import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { Queue, type ConnectionOptions } from 'bullmq';
import { DELIVERY_QUEUE, GPU_QUEUE } from './job-schemas.js';

/** The queue states `/metrics` reports as depth. */
export const QUEUE_DEPTH_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'failed'] as const;
export type QueueDepthState = (typeof QUEUE_DEPTH_STATES)[number];

export interface QueueDepth {
  queue: string;
  state: QueueDepthState;
  count: number;
}

/** The operator's view of the queues: their depth for metrics, and the queues themselves for bull-board. */
export interface QueueInspection {
  /**
   * How many jobs each queue holds per state, read from Redis at call time: the same figures in
   * every process, whichever runs the workers. `failed` counts the jobs BullMQ gave up on and still
   * keeps (7 days, see the queues' `removeOnFail`).
   */
  depth(): Promise<QueueDepth[]>;
  /** The queues as bull-board's BullMQ adapter wraps them. */
  boardAdapters(): BullMQAdapter[];
  /** Closes the inspection's Queue objects (not the connection, which the caller owns). */
  close(): Promise<void>;
}

/** Opens the `gpu` and `delivery` queues for inspection on an existing (producer) connection. */
export function openQueueInspection(options: { connection: ConnectionOptions; prefix: string }): QueueInspection {
  const queues = [GPU_QUEUE, DELIVERY_QUEUE].map((name) => new Queue(name, { connection: options.connection, prefix: options.prefix }));
  // A Queue re-emits its connection's errors; unheard, an 'error' event would crash the process.
  // The connection's owner logs them already.
  for (const queue of queues) queue.on('error', () => undefined);
  return {
    async depth() {
      const counts = await Promise.all(queues.map((queue) => queue.getJobCounts(...QUEUE_DEPTH_STATES)));
      return queues.flatMap((queue, i) => QUEUE_DEPTH_STATES.map((state) => ({ queue: queue.name, state, count: counts[i]![state] ?? 0 })));
    },
    boardAdapters: () => queues.map((queue) => new BullMQAdapter(queue)),
    async close() {
      await Promise.all(queues.map((queue) => queue.close()));
    },
  };
}
