import { toDecodeError } from './decode-error.js';
import { MAX_LONG_EDGE } from './resize.js';
import { decodeOptions, jpegOutput, sharp, uprightSize } from './sharp.js';
import { superResolve, SUPER_RESOLUTION_SCALE } from './super-resolution.js';

/** How an upscale was made. */
export type UpscaleMethod = 'esrgan' | 'lanczos';

export interface UpscaleOptions {
  /** Try the super-resolution model first, if it is expected to finish within `budgetMs`; false: lanczos only. */
  superResolution: { budgetMs: number } | false;
  signal?: AbortSignal;
}

export interface Upscaled {
  bytes: Buffer;
  width: number;
  height: number;
  method: UpscaleMethod;
}

/**
 * Enlarges an image so its long edge is exactly `longEdge` (8K: 7680), as an sRGB JPEG at quality
 * 90. With super-resolution allowed and enlargement needed, ESRGAN makes a 4x version first (see
 * superResolve) and lanczos3 takes it the rest of the way; when the model would not finish within
 * the budget, an unsharp mask crisps the original and lanczos3 enlarges it. Throws
 * AppError for unreadable input, RangeError for a nonsense target.
 */
export async function upscaleToLongEdge(image: Buffer, longEdge: number, opts: UpscaleOptions): Promise<Upscaled> {
  if (!Number.isInteger(longEdge) || longEdge < 1 || longEdge > MAX_LONG_EDGE) {
    throw new RangeError(`Long edge must be an integer from 1 to ${MAX_LONG_EDGE}, not ${longEdge}`);
  }
  const { width, height } = await uprightSize(image).catch((error: unknown) => {
    throw toDecodeError(error);
  });
  const factor = longEdge / Math.max(width, height);
  const target = width >= height ? { width: longEdge } : { height: longEdge };
  const outputPixels = longEdge * Math.ceil(longEdge * (Math.min(width, height) / Math.max(width, height)));

  if (opts.superResolution && factor > 1.5) {
    const enlarged = await superResolve(image, { budgetMs: opts.superResolution.budgetMs, signal: opts.signal });
    if (enlarged) {
      const { data, info } = await sharp(enlarged.data, { raw: { width: enlarged.width, height: enlarged.height, channels: enlarged.channels } })
        .resize({ ...target, kernel: 'lanczos3' })
        .jpeg(jpegOutput(outputPixels))
        .toBuffer({ resolveWithObject: true });
      return { bytes: data, width: info.width, height: info.height, method: 'esrgan' };
    }
  }
  opts.signal?.throwIfAborted();
  let source = sharp(image, decodeOptions()).flatten({ background: '#ffffff' }).toColourspace('srgb');
  if (factor > 1) {
    // Lanczos alone leaves a big enlargement soft. The unsharp mask runs on the source pixels, where
    // it costs ~1/36 of what it would on the 8K result (which would double the upscale's time).
    const { data, info } = await source
      .sharpen({ sigma: 1, m1: 0.8, m2: 2.5 })
      .raw()
      .toBuffer({ resolveWithObject: true })
      .catch((error: unknown) => {
        throw toDecodeError(error);
      });
    source = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  }
  const { data, info } = await source
    .resize({ ...target, kernel: 'lanczos3' })
    .jpeg(jpegOutput(outputPixels))
    .toBuffer({ resolveWithObject: true })
    .catch((error: unknown) => {
      throw toDecodeError(error);
    });
  return { bytes: data, width: info.width, height: info.height, method: 'lanczos' };
}

export { SUPER_RESOLUTION_SCALE };
