import { toDecodeError } from './decode-error.js';
import { sharp } from './sharp.js';

/** What an encoded image is, read from its header. */
export interface ImageInfo {
  /** Displayed size: EXIF orientation applied. */
  width: number;
  height: number;
  /** libvips' name for the format, e.g. `jpeg`, `png`, `heif`. */
  format: string;
  /** Encoded size. */
  bytes: number;
}

/**
 * Reads an encoded image's size and format from its header, without decoding pixels.
 * Throws AppError UNSUPPORTED_FORMAT or CORRUPT_IMAGE when the bytes are not a readable image.
 */
export async function imageInfo(image: Buffer): Promise<ImageInfo> {
  const meta = await sharp(image, { limitInputPixels: false }).metadata().catch((error: unknown) => {
    throw toDecodeError(error);
  });
  return { width: meta.autoOrient.width, height: meta.autoOrient.height, format: meta.format, bytes: image.length };
}
