import type { Redis } from 'ioredis';

/**
 * Cancelling a running job: the request may reach any process, the job runs in one worker
 * somewhere, and BullMQ's `worker.cancelJob` only reaches jobs of its own process. So the request
 * is published on one channel per deployment and every GPU worker process tries it locally
 * (a no-op where the job is not running).
 */
export const cancelChannel = (prefix: string): string => `${prefix}:gpu:cancel`;

/** Publishes a cancellation of `jobId` to every GPU worker of the deployment. */
export async function publishCancel(publisher: Pick<Redis, 'publish'>, prefix: string, jobId: string): Promise<void> {
  await publisher.publish(cancelChannel(prefix), jobId);
}

/**
 * Hands each published cancellation to `onCancel`. `subscriber` must be a connection of its own:
 * once subscribed it can do nothing else. It resubscribes by itself after a reconnect.
 */
export async function listenForCancels(subscriber: Redis, prefix: string, onCancel: (jobId: string) => void): Promise<void> {
  const channel = cancelChannel(prefix);
  subscriber.on('message', (from: string, jobId: string) => {
    if (from === channel) onCancel(jobId);
  });
  await subscriber.subscribe(channel);
}
