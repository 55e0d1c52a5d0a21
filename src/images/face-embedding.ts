import { FULL_EDGE, QUICK_EDGE, searchFaces, SMALL_FACE, uprightFaceBox, type FaceBox, type FaceSquare } from './face-detector.js';
import { faceModels } from './face-model-pool.js';
import { largest, squareAround } from './blazeface.js';
import type { Pixels } from './pixel-sampling.js';
import { uprightSize } from './sharp.js';
import { decodeForModel } from './model-input.js';

/**
 * Face embeddings on the CPU: the largest face of an image as a unit vector, so that two faces of
 * one person point the same way. The model is the face description net of @vladmandic/human
 * (`models/faceres.json`, HSE FaceRes: a MobileNet-v1 trunk with a 1024-wide global-pooling
 * descriptor); faces are found by BlazeFace. Both run on onnxruntime in the face-model threads
 * (face-models.ts, face-model-pool.ts).
 */

/** One face as the model sees it: the largest face of an image and its embedding. */
export interface FaceEmbedding {
  /** Unit-length (L2-normalised) descriptor: the dot product of two is their cosine similarity. */
  vector: Float32Array;
  /** Where the face is, in the upright image's pixels. */
  face: FaceBox;
}

/**
 * The embedding of the largest face in an encoded image, or undefined when no face is found.
 * The face is found by the face search (face-detector.ts: a 320 px copy, or 640 px for small
 * faces), and its square (1.4x the face, black where it leaves the picture) is cut from that same
 * copy, in grey, at 160 px, for the description net. About 15 ms of model time a face. Throws
 * AppError for bytes that are not a readable image.
 */
export async function embedLargestFace(image: Buffer): Promise<FaceEmbedding | undefined> {
  const search = await searchFaces(image);
  const face = largest(search.detections);
  if (!face) return undefined;
  const vector = await faceModels.describe(search.pixels, squareAround(face.box));
  return { vector, face: uprightFaceBox(search, face) };
}

/** The copy a known face is cut from: 320 px, or 640 px when it is small there, as in a search. */
const KNOWN_FACE_EDGES = [QUICK_EDGE, FULL_EDGE] as const;

/**
 * The embedding of the face in `square` (in the upright image's pixels), for an image whose maker
 * says where it put the face, as the local backend does: the face is not searched for, and only
 * the square's rows are decoded, so this is the description net's time and a third of a decode.
 * Whatever the square holds is described: a wrong square scores low, never high. Undefined when the
 * square lies mostly outside the image.
 */
export async function embedFaceAt(image: Buffer, square: FaceSquare): Promise<Float32Array | undefined> {
  const upright = await uprightSize(image);
  if (insideShare(square, upright) < 0.5) return undefined;
  const longEdge = Math.max(upright.width, upright.height);
  const edge = KNOWN_FACE_EDGES.find((candidate) => (square.side * Math.min(candidate, longEdge)) / longEdge >= SMALL_FACE) ?? KNOWN_FACE_EDGES.at(-1)!;
  const scale = Math.min(1, edge / longEdge);
  const size = { width: Math.max(1, Math.round(upright.width * scale)), height: Math.max(1, Math.round(upright.height * scale)) };
  const [left, top, side] = [square.left * scale, square.top * scale, square.side * scale];
  // The square and a pixel's margin for the bilinear samples at its edge, inside the picture; what lies outside reads as black.
  const area = { left: clamp(Math.floor(left) - 1, 0, size.width - 1), top: clamp(Math.floor(top) - 1, 0, size.height - 1) };
  const right = clamp(Math.ceil(left + side) + 1, area.left + 1, size.width);
  const bottom = clamp(Math.ceil(top + side) + 1, area.top + 1, size.height);
  const { data, info } = await decodeForModel(image, undefined, { size, area: { ...area, width: right - area.left, height: bottom - area.top } });
  const pixels: Pixels = { data, width: info.width, height: info.height, channels: info.channels };
  const [cropTop, cropLeft] = [top - area.top, left - area.left];
  return faceModels.describe(pixels, [cropTop, cropLeft, cropTop + side, cropLeft + side]);
}

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/** The share of the square's area that lies inside the image. */
function insideShare(square: FaceSquare, image: { width: number; height: number }): number {
  const width = Math.max(0, Math.min(image.width, square.left + square.side) - Math.max(0, square.left));
  const height = Math.max(0, Math.min(image.height, square.top + square.side) - Math.max(0, square.top));
  return square.side > 0 ? (width * height) / (square.side * square.side) : 0;
}
