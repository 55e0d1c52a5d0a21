import { pathToFileURL } from 'node:url';
import type * as TfCore from '@tensorflow/tfjs-core';
import { decodeOptions, sharp } from './sharp.js';
import { decodeForModel, loadTf, packageFile, requireModule, wasmDirectory } from './tf-runtime.js';

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
 * Faces are looked for in a copy whose long edge is at most this: BlazeFace itself sees 256 px,
 * so a bigger copy only costs decode time.
 */
const DETECT_EDGE = 768;
/** Below this confidence a detection is not a face (BlazeFace scores real faces ~0.7-0.95). */
const MIN_CONFIDENCE = 0.5;
const MAX_FACES = 20;

/** The slice of @vladmandic/human this module uses (its own typings do not resolve under NodeNext). */
interface HumanFace {
  box: [number, number, number, number];
  score: number;
  annotations?: Record<string, number[][] | undefined>;
}
interface HumanInstance {
  load(): Promise<void>;
  detect(input: TfCore.Tensor): Promise<{ face: HumanFace[]; error?: string | null }>;
}
type HumanConstructor = new (config: Record<string, unknown>) => HumanInstance;

let detector: Promise<HumanInstance> | undefined;
/** tfjs runs one model at a time; callers queue here rather than interleave inside Human. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Human (BlazeFace face detector only) on the tfjs wasm backend, loaded on first use (~0.2 s)
 * and shared by the whole process. Weights are read from @vladmandic/human's models folder.
 */
function loadDetector(): Promise<HumanInstance> {
  detector ??= (async () => {
    await loadTf();
    const { Human } = requireModule<{ Human: HumanConstructor }>(packageFile('@vladmandic/human', 'dist/human.node-wasm.js'));
    const human = new Human({
      backend: 'wasm',
      wasmPath: wasmDirectory(),
      modelBasePath: `${pathToFileURL(packageFile('@vladmandic/human', 'models')).href}/`,
      debug: false,
      warmup: 'none',
      cacheModels: false,
      cacheSensitivity: 0,
      face: {
        enabled: true,
        detector: { rotation: false, maxDetected: MAX_FACES, minConfidence: MIN_CONFIDENCE, iouThreshold: 0.2, return: false, skipFrames: 0, skipTime: 0 },
        mesh: { enabled: false },
        iris: { enabled: false },
        description: { enabled: false },
        emotion: { enabled: false },
        antispoof: { enabled: false },
        liveness: { enabled: false },
        attention: { enabled: false },
      },
      body: { enabled: false },
      hand: { enabled: false },
      object: { enabled: false },
      gesture: { enabled: false },
      segmentation: { enabled: false },
      filter: { enabled: false },
    });
    await human.load();
    return human;
  })().catch((error: unknown) => {
    detector = undefined;
    throw error;
  });
  return detector;
}

/** Loads the detector now (it loads lazily otherwise): call at start-up to keep the first request fast. */
export async function warmUpFaceDetector(): Promise<void> {
  await loadDetector();
}

/**
 * Finds the faces in an encoded image, largest first. Runs BlazeFace on the CPU in this process
 * (tens of milliseconds per photo). Throws AppError for bytes that are not a readable image.
 */
export async function detectFaces(image: Buffer): Promise<FaceBox[]> {
  const pixels = await decodeForModel(image, DETECT_EDGE);
  const upright = await sharp(image, decodeOptions()).metadata();
  const scale = upright.autoOrient.width / pixels.info.width;
  return (await detectFacesInPixels(pixels)).map((face) => scaleFace(face, scale));
}

/** Decoded RGB(A) pixels, as `decodeForModel` returns them. */
export interface ModelPixels {
  data: Buffer;
  info: { width: number; height: number; channels: number };
}

/**
 * Finds the faces in pixels already decoded (by `decodeForModel`), largest first, in those pixels'
 * coordinates: for callers that go on to use the same pixels (the face embedding) and so decode once.
 */
export async function detectFacesInPixels({ data, info }: ModelPixels): Promise<FaceBox[]> {
  const run = queue.then(async () => {
    const [tf, human] = await Promise.all([loadTf(), loadDetector()]);
    const pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
    const tensor = tf.tensor3d(pixels, [info.height, info.width, info.channels], 'int32');
    try {
      const result = await human.detect(tensor);
      if (result.error) throw new Error(`face detector: ${result.error}`);
      return result.face;
    } finally {
      tensor.dispose();
    }
  });
  queue = run.catch(() => undefined);
  const faces = await run;

  return faces
    .map((face): FaceBox => {
      const [x, y, w, h] = face.box;
      const leftEye = face.annotations?.leftEye?.[0];
      const rightEye = face.annotations?.rightEye?.[0];
      const box: FaceBox = { left: x, top: y, width: w, height: h, score: face.score };
      if (leftEye && rightEye && leftEye.length >= 2 && rightEye.length >= 2) {
        box.eyes = { left: { x: leftEye[0]!, y: leftEye[1]! }, right: { x: rightEye[0]!, y: rightEye[1]! } };
      }
      return box;
    })
    .sort((a, b) => b.width * b.height - a.width * a.height);
}

function scaleFace(face: FaceBox, scale: number): FaceBox {
  const point = (p: FacePoint): FacePoint => ({ x: p.x * scale, y: p.y * scale });
  const box: FaceBox = { left: face.left * scale, top: face.top * scale, width: face.width * scale, height: face.height * scale, score: face.score };
  if (face.eyes) box.eyes = { left: point(face.eyes.left), right: point(face.eyes.right) };
  return box;
}
