import { AppError } from '../errors.js';
import { requireModule } from './model-files.js';

/** Decoded pixels: RGBA, 8 bits per channel, rows top to bottom. */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 4;
}

interface HeicFrame {
  width: number;
  height: number;
  decode(): Promise<{ width: number; height: number; data: Uint8ClampedArray }>;
}
type HeicDecodeAll = (input: { buffer: Uint8Array }) => Promise<HeicFrame[] & { dispose(): void }>;

let decodeAll: HeicDecodeAll | undefined;

/**
 * Decodes the primary image of a HEIC/HEIF photo (HEVC, as phones write it) with libheif compiled
 * to WebAssembly (`heic-decode`), because sharp's prebuilt libvips has no HEVC decoder. The size is
 * checked against `maxPixels` before a single pixel is decoded. libheif applies the file's own
 * rotation and mirroring, so the result is upright. Throws AppError IMAGE_TOO_LARGE or CORRUPT_IMAGE.
 */
export async function decodeHeic(bytes: Buffer, maxPixels: number): Promise<RawImage> {
  // Loaded on first use: compiling libheif's wasm costs a few hundred milliseconds and most photos are JPEG.
  decodeAll ??= requireModule<{ all: HeicDecodeAll }>('heic-decode').all;
  let frames: Awaited<ReturnType<HeicDecodeAll>>;
  try {
    frames = await decodeAll({ buffer: bytes });
  } catch (error) {
    throw new AppError('CORRUPT_IMAGE', `HEIC could not be read: ${messageOf(error)}`, { cause: error });
  }
  try {
    const primary = frames[0];
    if (!primary || !primary.width || !primary.height) throw new AppError('CORRUPT_IMAGE', 'HEIC holds no image');
    if (primary.width * primary.height > maxPixels) {
      throw new AppError('IMAGE_TOO_LARGE', `Image is ${primary.width}x${primary.height}, over ${maxPixels} pixels`, {
        details: { width: primary.width, height: primary.height, maxPixels },
      });
    }
    const decoded = await primary.decode().catch((error: unknown) => {
      throw new AppError('CORRUPT_IMAGE', `HEIC could not be decoded: ${messageOf(error)}`, { cause: error });
    });
    const { buffer, byteOffset, byteLength } = decoded.data;
    return { data: Buffer.from(buffer, byteOffset, byteLength), width: decoded.width, height: decoded.height, channels: 4 };
  } finally {
    frames.dispose();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
