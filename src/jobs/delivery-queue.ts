import { Queue, type ConnectionOptions } from 'bullmq';
import { DELIVERY_QUEUE, deliveryJobData, deliveryJobId, type DeliveryJobData } from './job-schemas.js';

/** Posts "something happened to job X" for the bots process to tell the chat. Idempotent per (job, event). */
export interface DeliveryQueue {
  notify(data: DeliveryJobData): Promise<void>;
  close(): Promise<void>;
}

export function createDeliveryQueue(options: { connection: ConnectionOptions; prefix: string }): DeliveryQueue & { queue: Queue } {
  const queue = new Queue(DELIVERY_QUEUE, {
    connection: options.connection,
    prefix: options.prefix,
    defaultJobOptions: {
      // Chat platforms rate-limit and hiccup: keep trying for a good while.
      attempts: 10,
      backoff: { type: 'exponential', delay: 1_000 },
      removeOnComplete: { age: 24 * 3600, count: 5_000 },
      removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
    },
  });
  return {
    queue,
    async notify(data) {
      const parsed = deliveryJobData.parse(data);
      await queue.add(parsed.event, parsed, { jobId: deliveryJobId(parsed) });
    },
    close: () => queue.close(),
  };
}
