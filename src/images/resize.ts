import { decodeOptions, jpegOutput, sharp, uprightSize } from './sharp.js';

/** The longest edge resizeToLongEdge will produce (JPEG allows 65535; this keeps memory sane). */
export const MAX_LONG_EDGE = 16384;

/**
 * Scales an image (up or down, lanczos3) so its long edge is exactly `longEdge` pixels, keeping
 * the aspect ratio, and encodes an sRGB JPEG at quality 90. libvips streams the work in strips,
 * so an 8K (7680 px) result needs memory for a band of rows, not the whole picture (~30 MB of
 * working memory measured for 512 px -> 7680 x 7680, against ~350 MB with optimised Huffman coding).
 */
export async function resizeToLongEdge(image: Buffer, longEdge: number): Promise<Buffer> {
  if (!Number.isInteger(longEdge) || longEdge < 1 || longEdge > MAX_LONG_EDGE) {
    throw new RangeError(`Long edge must be an integer from 1 to ${MAX_LONG_EDGE}, not ${longEdge}`);
  }
  const { width, height } = await uprightSize(image);
  // Naming only the long edge lets sharp derive the other one from the aspect ratio.
  const target = width >= height ? { width: longEdge } : { height: longEdge };
  const outputPixels = longEdge * Math.ceil((longEdge * Math.min(width, height)) / Math.max(width, height));
  return sharp(image, decodeOptions())
    .resize({ ...target, kernel: 'lanczos3' })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .jpeg(jpegOutput(outputPixels))
    .toBuffer();
}
