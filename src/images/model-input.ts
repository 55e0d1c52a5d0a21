import { toDecodeError } from './decode-error.js';
import { decodeOptions, sharp } from './sharp.js';

/**
 * An image as the models take it: upright sRGB pixels on white, optionally fitted inside
 * `maxEdge`, or resized to `region.size` and cut to `region.area` (then only the rows down to the
 * area's bottom are decoded). Throws AppError for unreadable bytes.
 */
export async function decodeForModel(image: Buffer, maxEdge?: number, region?: { size: { width: number; height: number }; area: { left: number; top: number; width: number; height: number } }) {
  let pipeline = sharp(image, decodeOptions());
  if (region) pipeline = pipeline.resize(region.size.width, region.size.height, { fit: 'fill' }).extract(region.area);
  else if (maxEdge) pipeline = pipeline.resize(maxEdge, maxEdge, { fit: 'inside', withoutEnlargement: true });
  return pipeline
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch((error: unknown) => {
      throw toDecodeError(error);
    });
}
