import { finishUntrusted, openPhoto, readPhotoHeader, type PhotoLimits } from './inspect-photo.js';
import { jpegOutput } from './sharp.js';

/** Normalized photos fit inside this square; smaller photos are never enlarged. */
export const NORMALIZED_MAX_EDGE = 2048;

/** An encoded JPEG with its pixel size. */
export interface EncodedImage {
  bytes: Buffer;
  width: number;
  height: number;
}

/**
 * Makes an uploaded photo safe to store and uniform to process: checks it like `inspectPhoto`,
 * then turns it upright by its EXIF orientation, converts it to sRGB, drops every piece of
 * metadata (EXIF, GPS, XMP, IPTC, ICC), keeps only the first frame (GIF), flattens transparency
 * onto white, fits it inside 2048 x 2048 without enlarging, and encodes a JPEG at quality 90.
 * HEIC is decoded by libheif's wasm build in a child process (colours are taken as sRGB: its ICC
 * profile is not read). Decodes wait for a free slot and run under the caps of decode-limits.ts.
 * Throws the same AppErrors as `inspectPhoto`.
 */
export async function normalizePhoto(bytes: Buffer, limits: PhotoLimits): Promise<EncodedImage> {
  const header = await readPhotoHeader(bytes, limits);
  // sharp writes no metadata unless asked and converts to sRGB by default; this one decode also
  // proves the photo is intact, so there is no separate full-decode check here.
  const photo = await openPhoto(bytes, header, limits.maxPixels);
  const { data, info } = await finishUntrusted(
    photo
      .resize(NORMALIZED_MAX_EDGE, NORMALIZED_MAX_EDGE, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .jpeg(jpegOutput(NORMALIZED_MAX_EDGE * NORMALIZED_MAX_EDGE)),
  );
  return { bytes: data, width: info.width, height: info.height };
}
