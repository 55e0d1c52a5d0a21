import { AppError } from '../errors.js';
import type { GpuBackend } from './backend.js';

/**
 * A backend whose calls end after `timeoutMs`: the inner backend sees its signal abort (and cancels
 * its remote work), and the call rejects with a retryable GPU_UNAVAILABLE, so the job is tried again
 * later. An abort of the caller's own signal still rejects with the caller's reason.
 */
export function withTimeLimit(backend: GpuBackend, timeoutMs: number): GpuBackend {
  return {
    name: backend.name,
    async run(task, signal) {
      const limit = new AbortController();
      const timer = setTimeout(() => limit.abort(new DOMException(`no result within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
      try {
        return await backend.run(task, AbortSignal.any([signal, limit.signal]));
      } catch (error) {
        if (limit.signal.aborted && !signal.aborted) {
          throw new AppError('GPU_UNAVAILABLE', `${backend.name} gave no result within ${Math.round(timeoutMs / 1000)} s; its work was cancelled`, {
            retryable: true,
            cause: error,
          });
        }
        throw error;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
