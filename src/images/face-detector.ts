import type { BlazeFaceDetection } from './blazeface.js';
import { faceModels } from './face-model-pool.js';
import { squareAround } from './blazeface.js';
import type { Pixels } from './pixel-sampling.js';
import { uprightSize } from './sharp.js';
import { decodeForModel } from './model-input.js';

/** A point in the pixels of the upright (EXIF-oriented) image. */
export interface FacePoint {
  x: number;
  y: number;
}

/** One face found in a photo, in the photo's upright pixel coordinates. */
export interface FaceBox {
  left: number;
  top: number;
  width: number;
  height: number;
  /** Detector confidence, 0..1. */
  score: number;
  /** Centres of the eyes, when the detector placed them. */
  eyes?: { left: FacePoint; right: FacePoint };
}

/**
 * The square a face is described from: BlazeFace's box (square, about 1.4x the face) before it
 * was clipped to the picture, in an image's upright pixels. It may reach outside the image.
 */
export interface FaceSquare {
  left: number;
  top: number;
  side: number;
}

/** A detected face's square, grown back past the picture's edge where the detector clipped it. */
export function faceSquareOf(face: Pick<FaceBox, 'left' | 'top' | 'width' | 'height'>): FaceSquare {
  const [top, left, bottom] = squareAround([face.left, face.top, face.width, face.height]);
  return { left, top, side: bottom - top };
}

/**
 * Faces are looked for first in a copy whose long edge is at most this: BlazeFace sees the picture
 * stretched to 256 x 256, and a small decode is cheap.
 */
export const QUICK_EDGE = 320;
/**
 * When that copy shows no face, or only faces whose box is under {@link SMALL_FACE} px there (a
 * group, a figure in a landscape), the search runs again on a copy this size, where a small face
 * is found more surely and its crop for the description net has more pixels.
 */
export const FULL_EDGE = 640;
/** A face box under this many pixels is cut from the 640 px copy (the 160 px crop would be upsampled 2.5x or more). */
export const SMALL_FACE = 64;

/** Starts the face-model threads and loads BlazeFace and FaceRes in each: call at start-up to keep the first request fast. */
export async function warmUpFaceModels(): Promise<void> {
  await faceModels.warmUp();
}

/** Stops the face-model threads once their work is answered: at shutdown, after the queue workers have stopped. */
export async function closeFaceModels(): Promise<void> {
  await faceModels.close();
}

/** An image searched for faces: its detection copy, what BlazeFace found there, and the image's upright size. */
export interface FaceSearch {
  /** The copy the faces were found in: the image decoded to fit 320 px, or 640 px for small faces. */
  pixels: Pixels;
  /** In `pixels`' coordinates, as the detector returns them. */
  detections: BlazeFaceDetection[];
  upright: { width: number; height: number };
}

/**
 * Searches by image: the same bytes asked for twice while the first search is still referenced
 * (a reference photo framed by the local backend and measured by the likeness gate in one job)
 * are decoded and searched once. Held weakly: an entry goes with its buffer.
 */
const searches = new WeakMap<Buffer, Promise<FaceSearch>>();

/** The face search of an encoded image (see {@link FaceSearch}). Throws AppError for bytes that are not a readable image. */
export function searchFaces(image: Buffer): Promise<FaceSearch> {
  let search = searches.get(image);
  if (!search) {
    search = runSearch(image);
    searches.set(image, search);
    search.catch(() => searches.delete(image));
  }
  return search;
}

async function runSearch(image: Buffer): Promise<FaceSearch> {
  const [quick, upright] = await Promise.all([searchCopy(image, QUICK_EDGE), uprightSize(image)]);
  const biggest = Math.max(0, ...quick.detections.map(({ box }) => Math.max(box[2], box[3])));
  const copyIsWhole = Math.max(quick.pixels.width, quick.pixels.height) < QUICK_EDGE;
  if (biggest >= SMALL_FACE || copyIsWhole) return { ...quick, upright };
  return { ...(await searchCopy(image, FULL_EDGE)), upright };
}

async function searchCopy(image: Buffer, edge: number): Promise<Omit<FaceSearch, 'upright'>> {
  const { data, info } = await decodeForModel(image, edge);
  const pixels: Pixels = { data, width: info.width, height: info.height, channels: info.channels };
  return { pixels, detections: await faceModels.detect(pixels) };
}

/**
 * Finds the faces in an encoded image, largest first, in the upright image's pixels. Runs
 * BlazeFace on the CPU in a face-model thread (15-30 ms a photo, decode included). Throws
 * AppError for bytes that are not a readable image.
 */
export async function detectFaces(image: Buffer): Promise<FaceBox[]> {
  const search = await searchFaces(image);
  return search.detections.map((detection) => uprightFaceBox(search, detection)).sort((a, b) => b.width * b.height - a.width * a.height);
}

/** A detection of a search as a FaceBox in the upright image's pixels (the eyes: Human's leftEye and rightEye, its first two keypoints). */
export function uprightFaceBox(search: FaceSearch, { box: [left, top, width, height], score, keypoints }: BlazeFaceDetection): FaceBox {
  const scale = search.upright.width / search.pixels.width;
  const point = ([x, y]: [number, number]): FacePoint => ({ x: x * scale, y: y * scale });
  const face: FaceBox = { left: left * scale, top: top * scale, width: width * scale, height: height * scale, score };
  const [first, second] = keypoints;
  if (first && second) face.eyes = { left: point(first), right: point(second) };
  return face;
}
