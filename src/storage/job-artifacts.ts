import type { ArtifactStore } from './artifact-store.js';

/** The folders a job's files live in: its input photos and its results. */
export const jobFolders = (jobId: string): string[] => [`inputs/${jobId}/`, `results/${jobId}/`];

/**
 * Runs `task` over `items`, at most `limit` at a time; rejects with the first failure once the
 * tasks already started have settled, so a failure never leaves work running unobserved.
 */
export async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (!failure && next < items.length) {
      const item = items[next++]!;
      await task(item).catch((error: unknown) => {
        failure ??= { error };
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw failure.error;
}

/** Store requests in flight at once when deleting many files. */
export const DELETE_CONCURRENCY = 16;

/** Deletes every file of these jobs (inputs and results, whatever rows say), a few jobs at a time. */
export function eraseJobFiles(store: ArtifactStore, jobIds: readonly string[]): Promise<void> {
  return forEachLimited(
    jobIds.flatMap((id) => jobFolders(id)),
    DELETE_CONCURRENCY,
    (folder) => store.deletePrefix(folder),
  );
}
