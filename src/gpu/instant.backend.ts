import { setTimeout as sleep } from 'node:timers/promises';
import type { GpuBackend } from './backend.js';

/** An 8×10 JPEG: the smallest honest "image" a job can produce. */
const TINY_JPEG = Buffer.from(
  '/9j/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAAKAAgDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAX/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFAEBAAAAAAAAAAAAAAAAAAAABP/EABQRAQAAAAAAAAAAAAAAAAAAAAD/2gAMAwEAAhEDEQA/AKIAhr//2Q==',
  'base64',
);

/**
 * Answers every task with pre-made tiny images after `delayMs`: measures the orchestration around
 * the GPU (benchmarks, chaos and crash tests), never the pixels. Not for users.
 */
export function createInstantBackend(options: { delayMs?: number } = {}): GpuBackend {
  const delayMs = options.delayMs ?? 0;
  return {
    name: 'instant',
    async run(task, signal) {
      if (delayMs > 0) await sleep(delayMs, undefined, { signal });
      signal.throwIfAborted();
      const count = task.kind === 'portrait' ? task.variants : 1;
      return { images: Array.from({ length: count }, () => TINY_JPEG), model: 'instant/tiny', gpuSeconds: delayMs / 1000, costUsd: 0, placeholders: true };
    },
  };
}
