import { AppError } from '../../errors.js';

/**
 * The intake of a process: acknowledgements before work, photo work a few at a time, for every
 * front-end. Discord forgets an interaction not acknowledged within 3 seconds, and the work behind
 * a request (a photo's decode and face check run partly on this thread) can hold the event loop
 * long enough to make a burst's later acknowledgements late. So: work waits while any
 * acknowledgement is in flight (at most `maxWaitMs`, so a steady stream cannot starve it), and
 * photo work runs `concurrency` at a time (it queues here, not in the database pool, where a
 * burst would time out).
 */
export interface IntakeGate {
  /** Counts `ack` as in flight until it settles; returns it. */
  acknowledging<T>(ack: Promise<T>): Promise<T>;
  /** Resolves once no acknowledgement is in flight, or after `maxWaitMs`. */
  quiet(): Promise<void>;
  /** Runs heavy work at most `concurrency` at a time, each once acknowledgements are quiet; rejects with INTAKE_BUSY when `maxWaiting` already wait. */
  heavy<T>(work: () => Promise<T>): Promise<T>;
  /** Acknowledgements in flight and heavy work waiting, for logs and tests. */
  readonly stats: { acknowledging: number; heavyRunning: number; heavyWaiting: number };
}

export interface IntakeGateOptions {
  /** Heavy work items running at once (default 4). */
  concurrency?: number;
  /** Heavy work items waiting at most; one more is refused with INTAKE_BUSY at once (default: no limit). */
  maxWaiting?: number;
  /** The longest work waits for acknowledgements to settle (default 1000 ms). */
  maxWaitMs?: number;
}

export function createIntakeGate(options: IntakeGateOptions = {}): IntakeGate {
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const maxWaitMs = options.maxWaitMs ?? 1_000;
  const maxWaiting = options.maxWaiting ?? Infinity;
  let inFlight = 0;
  // Work waiting for quiet, oldest first: all wait the same maxWaitMs, so deadlines come in this
  // order too and one timer (for the oldest) serves them all. A burst has hundreds waiting; a
  // timer and an AbortController each would cost the acknowledgements CPU.
  const quietWaiters: Array<{ wake: () => void; deadline: number }> = [];
  let timer: NodeJS.Timeout | undefined;
  let running = 0;
  const waiting: Array<() => void> = [];

  const armTimer = () => {
    const oldest = quietWaiters[0];
    if (timer || !oldest) return;
    timer = setTimeout(expire, Math.max(0, oldest.deadline - performance.now()));
    timer.unref();
  };
  function expire(): void {
    timer = undefined;
    const now = performance.now();
    let due = 0;
    while (due < quietWaiters.length && quietWaiters[due]!.deadline <= now) due += 1;
    for (const { wake } of quietWaiters.splice(0, due)) wake();
    armTimer();
  }

  const settle = () => {
    inFlight -= 1;
    if (inFlight === 0) {
      clearTimeout(timer);
      timer = undefined;
      for (const { wake } of quietWaiters.splice(0)) wake();
    }
  };

  function quiet(): Promise<void> {
    if (inFlight === 0) return Promise.resolve();
    return new Promise<void>((wake) => {
      quietWaiters.push({ wake, deadline: performance.now() + maxWaitMs });
      armTimer();
    });
  }

  return {
    acknowledging(ack) {
      inFlight += 1;
      ack.then(settle, settle);
      return ack;
    },
    quiet,
    async heavy(work) {
      if (running >= concurrency && waiting.length >= maxWaiting) throw new AppError('INTAKE_BUSY', 'intake queue full', { retryable: true });
      if (running >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
      else running += 1;
      try {
        await quiet();
        return await work();
      } finally {
        const next = waiting.shift();
        if (next) next(); // the slot passes straight to the next in line
        else running -= 1;
      }
    },
    get stats() {
      return { acknowledging: inFlight, heavyRunning: running, heavyWaiting: waiting.length };
    },
  };
}
