/**
 * Watches the event loop: a 10 ms timer whose late ticks measure how long the loop was held.
 * `stop()` ends it and gives the longest stall seen (ms beyond the 10 ms tick).
 */
export function startStallProbe(): { stop(): number; readonly longestMs: number } {
  let longestMs = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    longestMs = Math.max(longestMs, now - last - 10);
    last = now;
  }, 10);
  return {
    stop() {
      clearInterval(timer);
      return longestMs;
    },
    get longestMs() {
      return longestMs;
    },
  };
}
