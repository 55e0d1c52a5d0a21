import { AppError, isAppError } from '../errors.js';
import { renderPortraitPreview, resizeToLongEdge, restorePreview, withProvenance } from '../images/index.js';
import type { GpuBackend, GpuResult, GpuTask } from './backend.js';

/** The model name the local backend reports for everything it makes. */
export const LOCAL_MODEL = 'local/preview';
/** Every local output says, in its metadata, that it is a CPU preview and AI-generated. */
export const LOCAL_CREDIT = 'Likeness local preview — AI-generated';

/**
 * A GpuBackend that needs no GPU and no key: portraits are face-framed, style-graded crops of the
 * reference photos, restorations are denoise/levels/sharpen, upscales are lanczos resizes. Free
 * (costUsd 0); gpuSeconds is the wall time spent. Every image carries provenance XMP. Rejects with
 * the signal's reason once it aborts (checked between steps), and with AppError GPU_REJECTED_INPUT
 * (not retryable) when an input cannot be processed.
 */
export function createLocalBackend(): GpuBackend {
  return {
    name: 'local',
    async run(task: GpuTask, signal: AbortSignal): Promise<GpuResult> {
      const started = performance.now();
      try {
        signal.throwIfAborted();
        const raw = await render(task);
        const images: Buffer[] = [];
        for (const image of raw) {
          signal.throwIfAborted();
          images.push(await withProvenance(image, { credit: LOCAL_CREDIT }));
        }
        signal.throwIfAborted();
        const gpuSeconds = Math.round(performance.now() - started) / 1000;
        return { images, model: LOCAL_MODEL, gpuSeconds, costUsd: 0 };
      } catch (error) {
        throw signal.aborted ? signal.reason : asBackendError(error);
      }
    },
  };
}

/** Makes the unlabelled pixels for a task. */
async function render(task: GpuTask): Promise<Buffer[]> {
  switch (task.kind) {
    case 'portrait':
      return renderPortraitPreview(task.photos, { grade: task.style.grade, variants: task.variants, seed: task.seed });
    case 'restore':
      return [await restorePreview(task.photo, { colorize: task.colorize })];
    case 'upscale':
      return [await resizeToLongEdge(task.image, task.targetLongEdge)];
  }
}

/** Keeps the port's GPU_* errors as they are; anything else means the input could not be processed. */
function asBackendError(error: unknown): AppError {
  if (isAppError(error) && error.code.startsWith('GPU_')) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new AppError('GPU_REJECTED_INPUT', `Local preview could not process the input: ${message}`, {
    retryable: false,
    cause: error,
  });
}
