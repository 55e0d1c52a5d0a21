import { AppError, isAppError } from '../../errors.js';
import { detectFaces, normalizePhoto } from '../../images/index.js';
import type { PhotoSource } from './request.js';

/**
 * Fetches, validates and normalizes the request's photos (EXIF/GPS stripped, sRGB JPEG ≤ 2048 px).
 * Errors name the photo by its position, so the user knows which one to replace.
 */
export async function takePhotos(
  sources: readonly PhotoSource[],
  limits: { maxBytes: number; maxPixels: number; maxPhotos: number },
): Promise<Buffer[]> {
  if (sources.length === 0) throw new AppError('NO_PHOTO', 'no photo attached');
  if (sources.length > limits.maxPhotos) throw new AppError('TOO_MANY_PHOTOS', 'too many photos', { details: { max: limits.maxPhotos } });
  return Promise.all(
    sources.map(async (source, index) => {
      try {
        if (source.declaredBytes !== undefined && source.declaredBytes > limits.maxBytes) {
          throw new AppError('FILE_TOO_LARGE', 'declared size exceeds limit', { details: { max: limits.maxBytes } });
        }
        const bytes = await source.read(limits.maxBytes);
        const normalized = await normalizePhoto(bytes, limits);
        return normalized.bytes;
      } catch (error) {
        if (!isAppError(error)) throw error;
        throw new AppError(error.code, error.message, {
          cause: error,
          details: { ...error.details, photo: index + 1, max: limits.maxBytes, maxPixels: limits.maxPixels },
        });
      }
    }),
  );
}

/** What the face check found in one photo (1-based `photo`, as the user counts). */
export interface FaceCount {
  photo: number;
  faces: number;
}

/** A face smaller than this share of the photo's largest face is someone in the background, not a subject. */
const SUBJECT_FACE_SHARE = 0.25;

/**
 * The portrait face check, on normalized photos: each must show a face, or NO_FACE_FOUND names
 * the first that does not (nothing is stored or charged: it runs before the job exists). Returns
 * how many subject-sized faces each photo shows; with several, the portrait frames the largest.
 */
export async function checkFaces(photos: readonly Buffer[]): Promise<FaceCount[]> {
  const counts: FaceCount[] = [];
  // One at a time: the detector runs one photo at a time anyway, and this stops at the first failure.
  for (const [index, bytes] of photos.entries()) {
    const faces = await detectFaces(bytes);
    const largest = faces[0];
    if (!largest) throw new AppError('NO_FACE_FOUND', 'no face in photo', { details: { photo: index + 1 } });
    const area = (f: { width: number; height: number }) => f.width * f.height;
    counts.push({ photo: index + 1, faces: faces.filter((f) => area(f) >= SUBJECT_FACE_SHARE * area(largest)).length });
  }
  return counts;
}
