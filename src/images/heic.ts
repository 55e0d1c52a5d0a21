import { AppError } from '../errors.js';
import { HEIC_DECODE_TIMEOUT_MS, HEIC_MAX_CODED_IMAGES, HEIC_MAX_PIXELS, HEIC_PROCESS_HEAP_MB, HEIC_PROCESS_MAX_RSS_BYTES } from './decode-limits.js';
import { heifDecodeCost } from './heif-cost.js';
import { decodeHeicInProcess, type RawImage } from './heic-process.js';

export type { RawImage } from './heic-process.js';

/**
 * Refuses, from its boxes alone, a HEIC whose decoding would cost too much: over HEIC_MAX_PIXELS
 * with every grid tile and alpha plane counted, or over HEIC_MAX_CODED_IMAGES tiles. The header's
 * own size is not enough (issue 21: 225 tiles sharing 30 KB of HEVC). Throws AppError
 * IMAGE_TOO_COSTLY or CORRUPT_IMAGE.
 */
export function checkHeicCost(bytes: Buffer): void {
  const cost = heifDecodeCost(bytes);
  if (cost.pixels > HEIC_MAX_PIXELS || cost.codedImages > HEIC_MAX_CODED_IMAGES) {
    throw new AppError('IMAGE_TOO_COSTLY', `HEIC decodes ${cost.pixels} pixels in ${cost.codedImages} coded images, over ${HEIC_MAX_PIXELS} / ${HEIC_MAX_CODED_IMAGES}`, {
      details: { reason: 'heic', pixels: cost.pixels, codedImages: cost.codedImages },
    });
  }
}

/**
 * Decodes the primary image of a HEIC/HEIF photo (HEVC, as phones write it) with libheif compiled
 * to WebAssembly (`heic-decode`), because sharp's prebuilt libvips has no HEVC decoder. It runs in a
 * child process of its own, under a deadline and a memory cap (see heic-process.ts), after
 * `checkHeicCost`. libheif applies the file's own rotation and mirroring, so the result is upright.
 * Throws AppError IMAGE_TOO_COSTLY or CORRUPT_IMAGE.
 */
export async function decodeHeic(bytes: Buffer, maxPixels: number): Promise<RawImage> {
  checkHeicCost(bytes);
  return decodeHeicInProcess(bytes, {
    maxPixels: Math.min(maxPixels, HEIC_MAX_PIXELS),
    timeoutMs: HEIC_DECODE_TIMEOUT_MS,
    maxRssBytes: HEIC_PROCESS_MAX_RSS_BYTES,
    heapMb: HEIC_PROCESS_HEAP_MB,
  });
}
