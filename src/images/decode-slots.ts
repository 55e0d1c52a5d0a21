/** At most `size` tasks at a time; the rest wait in arrival order. */
export interface Slots {
  run<T>(task: () => Promise<T>): Promise<T>;
}

/** Creates a counting semaphore of `size` slots. */
export function createSlots(size: number): Slots {
  let busy = 0;
  const waiting: Array<() => void> = [];
  const release = () => {
    const next = waiting.shift();
    // The slot passes straight to the next waiter, so a newcomer cannot overtake it.
    if (next) next();
    else busy--;
  };
  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (busy < size) busy++;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await task();
      } finally {
        release();
      }
    },
  };
}
