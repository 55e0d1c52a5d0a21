import type * as TfConverter from '@tensorflow/tfjs-converter';
import type * as TfCore from '@tensorflow/tfjs-core';
import { detectFacesInPixels, type FaceBox } from './face-detector.js';
import { decodeForModel, loadTf, modelArtifactsFromFile, packageFile, requireModule } from './tf-runtime.js';

/**
 * Face embeddings on the CPU: the largest face of an image as a unit vector, so that two faces of
 * one person point the same way. The model is the face description net of @vladmandic/human
 * (`models/faceres.json`, HSE FaceRes: a MobileNet-v1 trunk with a 1024-wide global-pooling
 * descriptor), read from node_modules and run on the same tfjs wasm runtime as the face detector.
 * Faces are found by that detector (BlazeFace), in the same decoded pixels: one decode per image.
 */

/** One face as the model sees it: the largest face of an image and its embedding. */
export interface FaceEmbedding {
  /** Unit-length (L2-normalised) descriptor: the dot product of two is their cosine similarity. */
  vector: Float32Array;
  /** Where the face is, in the pixels of the image decoded to at most `maxEdge` (see {@link EmbedOptions}). */
  face: FaceBox;
}

export interface EmbedOptions {
  /** The face is cropped from the image decoded to fit inside this square (default 640). */
  maxEdge?: number;
  /**
   * Look for the face in a smaller copy first (BlazeFace sees 256 px anyway): about twice as fast
   * for a picture with one big face, such as a portrait variant. When nothing is found there, the
   * `maxEdge` copy is searched as well. Default: search the `maxEdge` copy only.
   */
  detectEdge?: number;
}

const DEFAULT_EDGE = 640;
/**
 * Side of the face crop the descriptor is computed from. The net is fully convolutional up to its
 * global average pool; it was trained at 224, and 160 halves the work (~45 ms instead of ~80 ms a
 * face on one core) for the same separation on our calibration photos (see likeness-score.ts).
 */
export const EMBED_CROP = 160;
const DESCRIPTOR_NODE = 'global_pooling/Mean';
/** ITU-R BT.601 luma: the crop is grey, so a black & white or sepia portrait compares with a colour photo. */
const LUMA = [0.299, 0.587, 0.114] as const;

type GraphModel = TfConverter.GraphModel;
let model: Promise<GraphModel> | undefined;

/**
 * The description net, loaded on first use (~7 MB of weights, ~0.1 s) and shared by the process.
 * Its input is declared 224 x 224 in model.json; the declaration is widened here so 160 px crops
 * pass the converter's shape check. A failed load is not cached.
 */
function loadModel(): Promise<GraphModel> {
  model ??= (async () => {
    await loadTf();
    const converter = requireModule<typeof TfConverter>('@tensorflow/tfjs-converter');
    const file = packageFile('@vladmandic/human', 'models/faceres.json');
    const artifacts = await modelArtifactsFromFile<TfCore.io.ModelJSON & { modelTopology: { node: GraphNode[] } }>(file, (json) => {
      for (const node of json.modelTopology.node) {
        if (node.op === 'Placeholder' && node.attr?.shape?.shape?.dim) node.attr.shape.shape.dim = [-1, -1, -1, 3].map((size) => ({ size: String(size) }));
      }
    });
    return converter.loadGraphModel({ load: async () => artifacts });
  })().catch((error: unknown) => {
    model = undefined;
    throw error;
  });
  return model;
}

interface GraphNode {
  op: string;
  attr?: { shape?: { shape?: { dim?: Array<{ size: string }> } } };
}

/** Loads the embedding model now (it loads lazily otherwise), e.g. at worker start-up. */
export async function warmUpFaceEmbedder(): Promise<void> {
  await loadModel();
}

/**
 * The embedding of the largest face in an encoded image, or undefined when no face is found.
 * A decode (to `maxEdge`; and to `detectEdge` when given), BlazeFace, a square crop of the
 * detector's face box (1.4x the face, padded with black where it leaves the picture) resized to
 * 160 px in grey, then the description net. Tens of milliseconds on one core. Throws AppError for
 * bytes that are not a readable image.
 */
export async function embedLargestFace(image: Buffer, options: EmbedOptions = {}): Promise<FaceEmbedding | undefined> {
  const maxEdge = options.maxEdge ?? DEFAULT_EDGE;
  const small = options.detectEdge && options.detectEdge < maxEdge ? decodeForModel(image, options.detectEdge) : undefined;
  const [pixels, found] = await Promise.all([decodeForModel(image, maxEdge), small?.then(detectFacesInPixels)]);
  let face = found?.[0] && scaleBox(found[0], pixels.info.width / (await small!).info.width);
  face ??= (await detectFacesInPixels(pixels))[0];
  if (!face) return undefined;
  const [tf, net] = await Promise.all([loadTf(), loadModel()]);
  const { width, height, channels } = pixels.info;
  const [top, left, bottom, right] = squareAround(face);
  // Synchronous from tensor to descriptor: nothing else can run on tfjs in between.
  const descriptor = tf.tidy(() => {
    const rgb = tf.tensor3d(new Uint8Array(pixels.data.buffer, pixels.data.byteOffset, pixels.data.length), [height, width, channels], 'int32');
    const batch = tf.expandDims(tf.cast(channels === 3 ? rgb : tf.slice(rgb, [0, 0, 0], [height, width, 3]), 'float32'), 0) as TfCore.Tensor4D;
    const crop = tf.image.cropAndResize(batch, [[top / height, left / width, bottom / height, right / width]], [0], [EMBED_CROP, EMBED_CROP], 'bilinear', 0);
    const grey = tf.sum(tf.mul(crop, tf.tensor1d([...LUMA])), -1, true);
    const input = tf.tile(grey, [1, 1, 1, 3]);
    const out = net.execute(input, DESCRIPTOR_NODE) as TfCore.Tensor;
    return tf.div(out, tf.maximum(tf.norm(out), 1e-12));
  });
  try {
    return { vector: new Float32Array(await descriptor.data()), face };
  } finally {
    descriptor.dispose();
  }
}

function scaleBox(face: FaceBox, scale: number): FaceBox {
  return { left: face.left * scale, top: face.top * scale, width: face.width * scale, height: face.height * scale, score: face.score };
}

/**
 * The square the crop is taken from: the detector's box (already square, 1.4x the face) as it was
 * before the detector clipped it to the picture, so a face at an edge is not re-centred.
 * Returned as [top, left, bottom, right] in pixels; it may reach outside the picture.
 */
export function squareAround(face: Pick<FaceBox, 'left' | 'top' | 'width' | 'height'>): [number, number, number, number] {
  const side = Math.max(face.width, face.height);
  // A side shorter than the square was clipped at the picture's edge: grow it back past that edge.
  const left = face.width < side && face.left <= 0.5 ? face.left + face.width - side : face.left;
  const top = face.height < side && face.top <= 0.5 ? face.top + face.height - side : face.top;
  return [top, left, top + side, left + side];
}
