import { availableParallelism } from 'node:os';
import sharp, { type JpegOptions, type SharpOptions } from 'sharp';

/**
 * The one configured sharp for this folder: every other module here imports sharp from this file,
 * so the process-wide settings below are in place before any image is decoded.
 */

/**
 * Decoders that stay enabled: JPEG, PNG, WebP, GIF (nsgif) and HEIF (AVIF) from a buffer. Everything
 * else (SVG, PDF, TIFF, RAW, JPEG 2000, JPEG XL, FITS, Matlab, magick, files on disk...) is blocked
 * process-wide, so a hostile upload cannot reach a loader we never meant to expose. This also
 * means SVG overlays cannot be used anywhere: draw overlays as raw pixels instead.
 */
export const ALLOWED_LOADERS = [
  'VipsForeignLoadJpegBuffer',
  'VipsForeignLoadPngBuffer',
  'VipsForeignLoadWebpBuffer',
  'VipsForeignLoadNsgifBuffer',
  'VipsForeignLoadHeifBuffer',
] as const;

sharp.block({ operation: ['VipsForeignLoad'] });
sharp.unblock({ operation: [...ALLOWED_LOADERS] });

// libuv runs up to four images at once; giving each about a quarter of the cores keeps a busy
// worker from oversubscribing the CPU while a lone 8K upscale still gets a few threads.
const cores = availableParallelism();
sharp.concurrency(Math.min(cores, Math.max(2, Math.ceil(cores / 4))));
// Every image we see is new, so libvips' operation cache rarely hits: keep it small.
sharp.cache({ memory: 64, files: 0, items: 32 });

/**
 * Pixel ceiling for images this service already produced or normalized (results, references):
 * room for an 8K result and for a 4x super-resolution of a 2048 px photo (8192 x 8192).
 */
export const INTERNAL_MAX_PIXELS = 120_000_000;

/** Options for decoding any input: stop on real decode errors (truncation included), cap pixels, auto-orient. */
export function decodeOptions(maxPixels: number = INTERNAL_MAX_PIXELS): SharpOptions {
  return { failOn: 'error', limitInputPixels: maxPixels, autoOrient: true };
}

/** Above this many pixels, JPEG output skips Huffman optimisation (see jpegOutput). */
const STREAMING_JPEG_PIXELS = 16_000_000;

/**
 * The JPEG encoding every output uses: quality 90, plain libjpeg (mozjpeg is slow). Optimised
 * Huffman tables make files ~7% smaller but make libjpeg hold every DCT coefficient until the
 * end (~350 MB for an 8K square), so large images are encoded in one streaming pass instead.
 */
export function jpegOutput(pixels: number): JpegOptions {
  return { quality: 90, mozjpeg: false, chromaSubsampling: '4:2:0', optimiseCoding: pixels <= STREAMING_JPEG_PIXELS };
}

/** An image's displayed size (EXIF orientation applied), read from its header without decoding pixels. */
export async function uprightSize(image: Buffer): Promise<{ width: number; height: number }> {
  const { autoOrient } = await sharp(image, decodeOptions()).metadata();
  return { width: autoOrient.width, height: autoOrient.height };
}

export { sharp };
