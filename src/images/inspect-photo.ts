import type { OutputInfo, Sharp } from 'sharp';
import { AppError } from '../errors.js';
import { toDecodeError } from './decode-error.js';
import { DECODE_TIMEOUT_SECONDS, HIGH_DEPTH_MAX_PIXELS, MAX_CONCURRENT_PHOTO_DECODES } from './decode-limits.js';
import { createSlots } from './decode-slots.js';
import { checkHeicCost, decodeHeic } from './heic.js';
import { decodeOptions, sharp } from './sharp.js';

/** What an uploaded photo may weigh: encoded bytes and decoded pixels (width x height). */
export interface PhotoLimits {
  maxBytes: number;
  maxPixels: number;
}

/** The photo formats we accept, as recognised from the bytes themselves. */
export type PhotoFormat = 'jpeg' | 'png' | 'webp' | 'avif' | 'gif' | 'heic';

/** A photo's format and displayed (EXIF-oriented) size. */
export interface PhotoHeader {
  format: PhotoFormat;
  width: number;
  height: number;
}

/**
 * Checks size and format from the header only, without decoding pixels, so a decompression bomb
 * is refused in milliseconds: the pixel limit, and the lower caps of decode-limits.ts for images
 * deeper than 8 bits a channel and for HEIC (whose grid tiles are counted). Throws AppError
 * FILE_EMPTY, FILE_TOO_LARGE, UNSUPPORTED_FORMAT, IMAGE_TOO_LARGE, IMAGE_TOO_COSTLY or
 * CORRUPT_IMAGE (all non-retryable).
 */
export async function readPhotoHeader(bytes: Buffer, limits: PhotoLimits): Promise<PhotoHeader> {
  if (bytes.length === 0) throw new AppError('FILE_EMPTY', 'The file is empty');
  if (bytes.length > limits.maxBytes) {
    throw new AppError('FILE_TOO_LARGE', `File is ${bytes.length} bytes, over ${limits.maxBytes}`, {
      details: { bytes: bytes.length, maxBytes: limits.maxBytes },
    });
  }
  // The pixel limit is checked below with the real numbers, so the header read itself is unlimited.
  const meta = await sharp(bytes, { limitInputPixels: false }).metadata().catch((error: unknown) => {
    throw toDecodeError(error);
  });
  const format = photoFormatOf(meta.format, meta.compression);
  const width = meta.autoOrient.width;
  const height = meta.autoOrient.height;
  if (!width || !height) throw new AppError('CORRUPT_IMAGE', 'Image header has no dimensions');
  if (width * height > limits.maxPixels) {
    throw new AppError('IMAGE_TOO_LARGE', `Image is ${width}x${height}, over ${limits.maxPixels} pixels`, {
      details: { width, height, maxPixels: limits.maxPixels },
    });
  }
  // 16-bit PNG (and 10/12-bit AVIF) decode at 6 bytes a pixel, with no shrink-on-load for PNG.
  if (meta.depth !== 'uchar' && meta.depth !== 'char' && width * height > HIGH_DEPTH_MAX_PIXELS) {
    throw new AppError('IMAGE_TOO_COSTLY', `Image is ${width}x${height} at ${meta.depth} depth, over ${HIGH_DEPTH_MAX_PIXELS} pixels`, {
      details: { reason: 'depth', width, height, depth: meta.depth },
    });
  }
  if (format === 'heic') checkHeicCost(bytes);
  return { format, width, height };
}

/**
 * Maps libvips' loader name to a PhotoFormat. HEIF is accepted as AVIF (AV1, decoded by libvips) or
 * HEIC (HEVC, as phones write it: libvips reads its header, `heic-decode` its pixels).
 */
function photoFormatOf(format: string, compression: string | undefined): PhotoFormat {
  switch (format) {
    case 'jpeg':
    case 'png':
    case 'webp':
    case 'gif':
      return format;
    case 'heif':
      if (compression === 'av1') return 'avif';
      if (compression === 'hevc') return 'heic';
      break;
  }
  throw new AppError('UNSUPPORTED_FORMAT', `Unsupported image format: ${format}${compression ? ` (${compression})` : ''}`, {
    details: { format },
  });
}

/**
 * Recognises an uploaded photo by its content (never its name), checks the limits, and proves it
 * decodes completely (the first frame, for GIF). Throws AppError FILE_EMPTY, FILE_TOO_LARGE,
 * UNSUPPORTED_FORMAT, IMAGE_TOO_LARGE (from the header, before any pixel is decoded),
 * IMAGE_TOO_COSTLY (from the header, or a decode over its time or memory cap) or CORRUPT_IMAGE;
 * none is retryable.
 */
export async function inspectPhoto(bytes: Buffer, limits: PhotoLimits): Promise<PhotoHeader> {
  const header = await readPhotoHeader(bytes, limits);
  if (header.format === 'heic') {
    await decodeHeic(bytes, limits.maxPixels);
    return header;
  }
  // Decoding to a thumbnail reads every byte of image data (truncation fails) while letting
  // JPEG and WebP decode at reduced scale, which is far cheaper than a full-size decode.
  await finishUntrusted(sharp(bytes, decodeOptions(limits.maxPixels)).resize(64, 64, { fit: 'inside' }).raw());
  return header;
}

/** Full decodes of untrusted photos share these slots, so an album of bombs cannot take all memory at once. */
const photoDecodes = createSlots(MAX_CONCURRENT_PHOTO_DECODES);

/**
 * Runs a sharp pipeline over an untrusted photo to its output: in one of MAX_CONCURRENT_PHOTO_DECODES
 * slots, under the DECODE_TIMEOUT_SECONDS cap, with decode failures as AppErrors (see toDecodeError).
 */
export function finishUntrusted(pipeline: Sharp): Promise<{ data: Buffer; info: OutputInfo }> {
  return photoDecodes
    .run(() => pipeline.timeout({ seconds: DECODE_TIMEOUT_SECONDS }).toBuffer({ resolveWithObject: true }))
    .catch((error: unknown) => {
      throw toDecodeError(error);
    });
}

/**
 * A sharp pipeline over a photo whose header has been checked: libvips decodes every format but
 * HEIC, which is decoded to raw pixels first, in a process of its own (see heic.ts). Run it with
 * `finishUntrusted`.
 */
export async function openPhoto(bytes: Buffer, header: PhotoHeader, maxPixels: number): Promise<Sharp> {
  if (header.format !== 'heic') return sharp(bytes, decodeOptions(maxPixels));
  const raw = await decodeHeic(bytes, maxPixels);
  return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
}
