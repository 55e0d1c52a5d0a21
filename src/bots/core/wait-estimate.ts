/** Seconds until a job at `position` (1 = next) is done, given how many run at once and how long one takes. */
export function estimateWaitSeconds(position: number, parallel: number, meanSeconds: number): number {
  if (position <= 0) return Math.max(1, Math.round(meanSeconds));
  const rounds = Math.ceil(position / Math.max(1, parallel));
  return Math.max(1, Math.round(rounds * meanSeconds));
}

/** "about 40 s", "about 3 min": coarse on purpose, an estimate is not a promise. */
export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}
