import { setTimeout as sleepTimer } from 'node:timers/promises';

/**
 * Time as the GPU backends see it: polling, back-off and elapsed time. Tests pass a virtual clock,
 * so "a prediction still running after 60 s" takes no real minute.
 */
export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  async sleep(ms, signal) {
    try {
      await sleepTimer(ms, undefined, { signal });
    } catch (error) {
      throw signal?.aborted ? signal.reason : error;
    }
  },
};
