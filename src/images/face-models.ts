import { Tensor } from 'onnxruntime-node';
import { BLAZEFACE_SIZE, decodeBlazeFace, type BlazeFaceDetection } from './blazeface.js';
import { FACE_MODELS, type ConvertedFaceModels } from './face-model-sources.js';
import { openModel, type OnnxModel } from './onnx/onnx-runtime.js';
import { convertShippedModel } from './onnx/shipped-model.js';
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

/** A model loaded on first use (tens of ms) and kept; a failed load is not cached, so the next call tries again. */
function lazy(load: () => Promise<OnnxModel>): () => Promise<OnnxModel> {
  let model: Promise<OnnxModel> | undefined;
  return () =>
    (model ??= load().catch((error: unknown) => {
      model = undefined;
      throw error;
    }));
}

let converted: ConvertedFaceModels | undefined;

/** The converted models this thread opens its sessions on (without them, it converts its own). */
export function useConvertedFaceModels(models: ConvertedFaceModels): void {
  converted = models;
}

const loadDetector = lazy(async () => openModel(converted?.detector ?? (await convertShippedModel(FACE_MODELS.detector))));
const loadDescriber = lazy(async () => openModel(converted?.describer ?? (await convertShippedModel(FACE_MODELS.describer))));

/** Opens both models now. */
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
