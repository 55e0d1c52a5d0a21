import type { Sharp } from 'sharp';
import { AppError } from '../errors.js';
import { toDecodeError } from './decode-error.js';
import { decodeHeic } from './heic.js';
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
 * is refused in milliseconds. Throws AppError FILE_EMPTY, FILE_TOO_LARGE, UNSUPPORTED_FORMAT,
 * IMAGE_TOO_LARGE or CORRUPT_IMAGE (all non-retryable).
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
 * UNSUPPORTED_FORMAT, IMAGE_TOO_LARGE (from the header, before any pixel is decoded) or
 * CORRUPT_IMAGE; none is retryable.
 */
export async function inspectPhoto(bytes: Buffer, limits: PhotoLimits): Promise<PhotoHeader> {
  const header = await readPhotoHeader(bytes, limits);
  if (header.format === 'heic') {
    await decodeHeic(bytes, limits.maxPixels);
    return header;
  }
  // Decoding to a thumbnail reads every byte of image data (truncation fails) while letting
  // JPEG and WebP decode at reduced scale, which is far cheaper than a full-size decode.
  await sharp(bytes, decodeOptions(limits.maxPixels))
    .resize(64, 64, { fit: 'inside' })
    .raw()
    .toBuffer()
    .catch((error: unknown) => {
      throw toDecodeError(error);
    });
  return header;
}

/**
 * A sharp pipeline over a photo whose header has been checked: libvips decodes every format but
 * HEIC, which is decoded to raw pixels first (see heic.ts). Decoding errors surface when the
 * pipeline runs; pass them through `toDecodeError`.
 */
export async function openPhoto(bytes: Buffer, header: PhotoHeader, maxPixels: number): Promise<Sharp> {
  if (header.format !== 'heic') return sharp(bytes, decodeOptions(maxPixels));
  const raw = await decodeHeic(bytes, maxPixels);
  return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
}
