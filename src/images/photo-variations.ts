import { toDecodeError } from './decode-error.js';
import { decodeOptions, sharp } from './sharp.js';

/**
 * Re-renderings of one photo that keep the person in it, and cut-outs of parts of a photo: the
 * material the likeness score is calibrated and tested on (the same face under crop, scale,
 * brightness and JPEG changes must score high; faces cut from a group photo are different people).
 */

export const PHOTO_VARIATIONS = ['crop', 'half-size', 'larger', 'brighter', 'darker', 'jpeg-q20', 'greyscale', 'sepia'] as const;
/** A change that leaves the person recognisable. */
export type PhotoVariation = (typeof PHOTO_VARIATIONS)[number];

const SEPIA: [[number, number, number], [number, number, number], [number, number, number]] = [
  [0.393, 0.769, 0.189],
  [0.349, 0.686, 0.168],
  [0.272, 0.534, 0.131],
];

/** `image` changed by `variation`, as a JPEG (quality 90 unless the variation is the quality). */
export async function photoVariation(image: Buffer, variation: PhotoVariation): Promise<Buffer> {
  const { autoOrient } = await sharp(image, decodeOptions()).metadata().catch((error: unknown) => {
    throw toDecodeError(error);
  });
  const { width, height } = autoOrient;
  const photo = sharp(image, decodeOptions());
  const changed = {
    // 85% of the width and 90% of the height, a little off-centre.
    crop: () => photo.extract({ left: Math.round(width * 0.08), top: Math.round(height * 0.05), width: Math.round(width * 0.85), height: Math.round(height * 0.9) }),
    'half-size': () => photo.resize(Math.round(width / 2)),
    larger: () => photo.resize(Math.round(width * 1.6)),
    brighter: () => photo.modulate({ brightness: 1.25 }),
    darker: () => photo.modulate({ brightness: 0.7 }),
    'jpeg-q20': () => photo,
    greyscale: () => photo.greyscale(),
    sepia: () => photo.recomb(SEPIA),
  }[variation]();
  return changed.jpeg({ quality: variation === 'jpeg-q20' ? 20 : 90 }).toBuffer();
}

/**
 * A rectangle of `image` (clipped to it) as a JPEG, with an optional mid-grey border `pad` times
 * the rectangle's width on every side (a face cut tight from a thumbnail needs room around it
 * for the face detector).
 */
export async function cutRegion(image: Buffer, region: { left: number; top: number; width: number; height: number }, pad = 0): Promise<Buffer> {
  const { autoOrient } = await sharp(image, decodeOptions()).metadata().catch((error: unknown) => {
    throw toDecodeError(error);
  });
  const left = Math.max(0, Math.round(region.left));
  const top = Math.max(0, Math.round(region.top));
  const width = Math.min(autoOrient.width - left, Math.round(region.width));
  const height = Math.min(autoOrient.height - top, Math.round(region.height));
  const cut = await sharp(image, decodeOptions()).extract({ left, top, width, height }).toBuffer();
  const border = Math.round(width * pad);
  const framed = border > 0 ? sharp(cut).extend({ top: border, bottom: border, left: border, right: border, background: '#808080' }) : sharp(cut);
  return framed.jpeg({ quality: 95 }).toBuffer();
}
