import { AppError, isAppError } from '../errors.js';
import {
  LOOKS,
  renderPortraitSet,
  restorePreview,
  upscaleToLongEdge,
  type Look,
  type LookName,
} from '../images/index.js';
import type { GpuBackend, GpuResult, GpuTask } from './backend.js';
import type { Style } from './styles.js';

/** The model name the local backend reports for everything it makes. */
export const LOCAL_MODEL = 'local/preview';
/** Every local output says, in its metadata, that it is a CPU preview and AI-generated. */
export const LOCAL_CREDIT = 'Likeness local preview — AI-generated';

/** The local look of each built-in style that has one; other styles render their catalog Grade. */
const STYLE_LOOKS: Readonly<Record<string, LookName>> = {
  studio: 'studio',
  headshot: 'high-key',
  'high-key': 'high-key',
  bw: 'classic-bw',
  'classic-bw': 'classic-bw',
  sepia: 'sepia-heritage',
  'sepia-heritage': 'sepia-heritage',
  heritage: 'sepia-heritage',
  'vintage-1950s': 'warm-film',
  'warm-film': 'warm-film',
  film: 'warm-film',
  memorial: 'soft-memorial',
  'soft-memorial': 'soft-memorial',
};

/** The look the local preview renders for a style. */
export function localLook(style: Style): Look | Style['grade'] {
  const name = STYLE_LOOKS[style.id];
  return name ? LOOKS[name] : style.grade;
}

export interface LocalBackendOptions {
  /**
   * Upscale with the ESRGAN model (onnxruntime, CPU) when it is expected to finish within `budgetMs`;
   * false (the default) always uses lanczos3 and an unsharp mask. The model takes ~30 s for a
   * 1024 x 1280 portrait on one core.
   */
  superResolution?: { budgetMs: number } | false;
}

/**
 * A GpuBackend that needs no GPU and no key: portraits are face-framed crops of the reference
 * photos (headshot, head and shoulders, square, off-centre) in the style's look; restorations are
 * denoise, auto-levels and gentle sharpening; upscales are ESRGAN (when allowed and fast enough)
 * or lanczos, exactly to the target. Free (costUsd 0); gpuSeconds is the wall time spent. Its
 * credit says the images are a local preview (the GPU handler writes it into each file). Rejects with the signal's reason
 * once it aborts, and with AppError GPU_REJECTED_INPUT (not retryable) when an input cannot be
 * processed.
 */
export function createLocalBackend(options: LocalBackendOptions = {}): GpuBackend {
  const superResolution = options.superResolution ?? false;
  return {
    name: 'local',
    async run(task: GpuTask, signal: AbortSignal): Promise<GpuResult> {
      const started = performance.now();
      try {
        signal.throwIfAborted();
        const { images, faces } = await render(task, superResolution, signal);
        signal.throwIfAborted();
        const gpuSeconds = Math.round(performance.now() - started) / 1000;
        return { images, model: LOCAL_MODEL, credit: LOCAL_CREDIT, gpuSeconds, costUsd: 0, ...(faces && { faces }) };
      } catch (error) {
        throw signal.aborted ? signal.reason : asBackendError(error);
      }
    },
  };
}

/** Makes the unlabelled pixels for a task (and, for portraits, says where it put the face). */
async function render(task: GpuTask, superResolution: LocalBackendOptions['superResolution'] & {}, signal: AbortSignal): Promise<Pick<GpuResult, 'images' | 'faces'>> {
  switch (task.kind) {
    case 'portrait':
      return renderPortraitSet(task.photos, { grade: localLook(task.style), variants: task.variants, seed: task.seed });
    case 'restore':
      return { images: [await restorePreview(task.photo, { colorize: task.colorize })] };
    case 'upscale':
      return { images: [(await upscaleToLongEdge(task.image, task.targetLongEdge, { superResolution, signal })).bytes] };
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
