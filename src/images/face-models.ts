import { Tensor } from 'onnxruntime-node';
import { BLAZEFACE_SIZE, decodeBlazeFace, type BlazeFaceDetection } from './blazeface.js';
import { loadShippedModel, type OnnxModel } from './onnx/onnx-runtime.js';
import { cropToGreyPlanes, resizeToPlanes, type Pixels } from './pixel-sampling.js';

/**
 * The two face models, as one thread runs them on decoded pixels: BlazeFace finds faces, FaceRes
 * (HSE's face description net) describes one. Both are @vladmandic/human's weights, converted to
 * run on onnxruntime (onnx/). This module is what a face-model worker thread executes
 * (face-models.worker.ts); the rest of the process reaches it through face-model-pool.ts.
 */

/** Below this confidence a detection is not a face (BlazeFace scores real faces ~0.7-0.95). */
const MIN_CONFIDENCE = 0.5;
const MAX_FACES = 20;
/** Detections overlapping a better one by this much are the same face. */
const IOU_THRESHOLD = 0.2;

/**
 * Side of the face crop the descriptor is computed from. The net is fully convolutional up to its
 * global average pool; it was trained at 224, and 160 roughly halves the work for the same
 * separation on our calibration photos (see likeness-score.ts).
 */
export const EMBED_CROP = 160;
const DESCRIPTOR_NODE = 'global_pooling/Mean';

/** A model loaded on first use (tens of ms) and kept; a failed load is not cached, so the next call tries again. */
function lazy(load: () => Promise<OnnxModel>): () => Promise<OnnxModel> {
  let model: Promise<OnnxModel> | undefined;
  return () =>
    (model ??= load().catch((error: unknown) => {
      model = undefined;
      throw error;
    }));
}

const loadDetector = lazy(() =>
  loadShippedModel({ packageName: '@vladmandic/human', file: 'models/blazeface.json', outputs: ['Identity', 'Identity_2', 'Identity_1', 'Identity_3'] }),
);
// Cut at the descriptor: the age and gender heads are not computed.
const loadDescriber = lazy(() => loadShippedModel({ packageName: '@vladmandic/human', file: 'models/faceres.json', outputs: [DESCRIPTOR_NODE] }));

/** Loads both models now. */
export async function loadFaceModels(): Promise<void> {
  await Promise.all([loadDetector(), loadDescriber()]);
}

/** Faces in the pixels, best first as non-max suppression keeps them; boxes in the pixels' coordinates (Human's conventions). */
export async function detect(pixels: Pixels): Promise<BlazeFaceDetection[]> {
  const { session, outputNames } = await loadDetector();
  // The picture stretched to the model's square, in [-1, 1], as Human feeds it.
  const input = new Tensor('float32', resizeToPlanes(pixels, BLAZEFACE_SIZE, 1 / 127.5, -1), [1, 3, BLAZEFACE_SIZE, BLAZEFACE_SIZE]);
  const results = await session.run({ [session.inputNames[0]!]: input });
  const [fineScores, fineRegressors, coarseScores, coarseRegressors] = outputNames.map((name) => results[name]!.data as Float32Array);
  return decodeBlazeFace({ fineScores: fineScores!, fineRegressors: fineRegressors!, coarseScores: coarseScores!, coarseRegressors: coarseRegressors! }, pixels.width, pixels.height, {
    maxFaces: MAX_FACES,
    minConfidence: MIN_CONFIDENCE,
    iouThreshold: IOU_THRESHOLD,
  });
}

/**
 * The unit-length descriptor of the face in `square` ([top, left, bottom, right] in pixels; it may
 * reach outside the picture, which reads as black): a grey crop resized to {@link EMBED_CROP}.
 */
export async function describe(pixels: Pixels, square: readonly [number, number, number, number]): Promise<Float32Array> {
  const { session, outputNames } = await loadDescriber();
  const crop = cropToGreyPlanes(pixels, square, EMBED_CROP);
  const results = await session.run({ [session.inputNames[0]!]: new Tensor('float32', crop, [1, 3, EMBED_CROP, EMBED_CROP]) });
  return unitLength(results[outputNames[0]!]!.data as Float32Array);
}

/** The vector scaled to length 1 (a zero vector stays zero). */
function unitLength(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const value of vector) sum += value * value;
  const norm = Math.max(Math.sqrt(sum), 1e-12);
  return Float32Array.from(vector, (value) => value / norm);
}

/** The largest of the detections, by area of its clipped box. */
export function largest(detections: readonly BlazeFaceDetection[]): BlazeFaceDetection | undefined {
  return [...detections].sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3])[0];
}

/**
 * The square a face is described from: the detector's box (square, 1.4x the face) as it was
 * before it was clipped to the picture, so a face at an edge is not re-centred.
 * Returned as [top, left, bottom, right] in pixels; it may reach outside the picture.
 */
export function squareAround([x, y, width, height]: readonly [number, number, number, number]): [number, number, number, number] {
  const side = Math.max(width, height);
  // A side shorter than the square was clipped at the picture's edge: grow it back past that edge.
  const left = width < side && x <= 0.5 ? x + width - side : x;
  const top = height < side && y <= 0.5 ? y + height - side : y;
  return [top, left, top + side, left + side];
}
