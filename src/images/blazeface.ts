/**
 * Decoding BlazeFace's raw outputs into face boxes: anchors, scores, non-max suppression and the
 * box conventions of @vladmandic/human (whose `blazeface.json` weights we run): each box enlarged
 * 1.4x around its centre, made square, then clipped to the picture. Pure functions; the model run
 * itself is in face-detector.ts.
 */

/** The model's input side. */
export const BLAZEFACE_SIZE = 256;
/** Human's detector scale: the box covers the face and some of the head around it. */
const BOX_SCALE = 1.4;
/** Raw values per anchor: score logit, box centre offset (x, y) and size (w, h), then 6 keypoints (x, y). */
const VALUES_PER_ANCHOR = 17;
const KEYPOINTS = 6;

export interface BlazeFaceOptions {
  maxFaces: number;
  minConfidence: number;
  iouThreshold: number;
}

/** One detection in the picture's pixels: Human's `box` ([x, y, w, h], square before clipping), score and keypoints. */
export interface BlazeFaceDetection {
  box: [number, number, number, number];
  score: number;
  /** Right eye, left eye, nose, mouth, right ear, left ear, as the model orders them; Human names the first two leftEye and rightEye. */
  keypoints: Array<[number, number]>;
}

/** The 896 anchor centres, in model pixels: a 16x16 grid (2 each) then an 8x8 grid (6 each). */
export const ANCHORS: ReadonlyArray<readonly [number, number]> = (() => {
  const anchors: Array<[number, number]> = [];
  for (const [stride, perCell] of [
    [BLAZEFACE_SIZE / 16, 2],
    [BLAZEFACE_SIZE / 8, 6],
  ] as const) {
    const cells = Math.ceil(BLAZEFACE_SIZE / stride);
    for (let y = 0; y < cells; y++) for (let x = 0; x < cells; x++) for (let n = 0; n < perCell; n++) anchors.push([stride * (x + 0.5), stride * (y + 0.5)]);
  }
  return anchors;
})();

/**
 * The model's four outputs, as the graph names them: `Identity` scores [1, 512, 1] and
 * `Identity_2` regressors [1, 512, 16] for the fine grid, `Identity_1` [1, 384, 1] and
 * `Identity_3` [1, 384, 16] for the coarse one.
 */
export interface BlazeFaceOutputs {
  fineScores: Float32Array;
  fineRegressors: Float32Array;
  coarseScores: Float32Array;
  coarseRegressors: Float32Array;
}

/** Faces in a `width` x `height` picture that was stretched to 256 x 256 for the model. */
export function decodeBlazeFace(outputs: BlazeFaceOutputs, width: number, height: number, options: BlazeFaceOptions): BlazeFaceDetection[] {
  const rows = anchorRows(outputs);
  const boxes = rows.map((row, i) => {
    const cx = row[1]! + ANCHORS[i]![0];
    const cy = row[2]! + ANCHORS[i]![1];
    return [cx - row[3]! / 2, cy - row[4]! / 2, cx + row[3]! / 2, cy + row[4]! / 2] as const;
  });
  const scores = rows.map((row) => 1 / (1 + Math.exp(-row[0]!)));
  const fx = width / BLAZEFACE_SIZE;
  const fy = height / BLAZEFACE_SIZE;
  return nonMaxSuppression(boxes, scores, options).map((i) => {
    const [x0, y0, x1, y1] = boxes[i]!;
    const [cx, cy] = [((x0 + x1) / 2) * fx, ((y0 + y1) / 2) * fy];
    // Enlarged around the centre, then square on the longer side, rounded as Human rounds it.
    const half = (Math.max((x1 - x0) * fx, (y1 - y0) * fy) * BOX_SCALE) / 2;
    const [left, top, right, bottom] = [Math.round(cx - half), Math.round(cy - half), Math.round(cx + half), Math.round(cy + half)];
    const clippedLeft = Math.max(0, left);
    const clippedTop = Math.max(0, top);
    const row = rows[i]!;
    const keypoints = Array.from({ length: KEYPOINTS }, (_, k): [number, number] => [
      (row[5 + 2 * k]! + ANCHORS[i]![0]) * fx,
      (row[6 + 2 * k]! + ANCHORS[i]![1]) * fy,
    ]);
    return {
      box: [Math.trunc(clippedLeft), Math.trunc(clippedTop), Math.trunc(Math.min(width, right) - clippedLeft), Math.trunc(Math.min(height, bottom) - clippedTop)],
      score: Math.round(100 * scores[i]!) / 100,
      keypoints,
    };
  });
}

/** The 896 rows of 17 values, fine grid first (the anchors' order). */
function anchorRows({ fineScores, fineRegressors, coarseScores, coarseRegressors }: BlazeFaceOutputs): Float32Array[] {
  const rows: Float32Array[] = [];
  const add = (scores: Float32Array, regressors: Float32Array) => {
    for (let i = 0; i < scores.length; i++) {
      const row = new Float32Array(VALUES_PER_ANCHOR);
      row[0] = scores[i]!;
      row.set(regressors.subarray(i * 16, i * 16 + 16), 1);
      rows.push(row);
    }
  };
  add(fineScores, fineRegressors);
  add(coarseScores, coarseRegressors);
  if (rows.length !== ANCHORS.length) throw new Error(`BlazeFace returned ${rows.length} anchors, expected ${ANCHORS.length}`);
  return rows;
}

/**
 * Greedy non-max suppression as TensorFlow's `nonMaxSuppression` does it: candidates above
 * `minConfidence`, best first, each kept unless it overlaps a kept one by `iouThreshold` or more.
 */
export function nonMaxSuppression(boxes: ReadonlyArray<readonly [number, number, number, number]>, scores: readonly number[], options: BlazeFaceOptions): number[] {
  const candidates = scores.flatMap((score, i) => (score > options.minConfidence ? [i] : [])).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const kept: number[] = [];
  for (const candidate of candidates) {
    if (kept.length >= options.maxFaces) break;
    if (kept.every((other) => intersectionOverUnion(boxes[candidate]!, boxes[other]!) < options.iouThreshold)) kept.push(candidate);
  }
  return kept;
}

function intersectionOverUnion(a: readonly [number, number, number, number], b: readonly [number, number, number, number]): number {
  const areaA = (Math.max(a[0], a[2]) - Math.min(a[0], a[2])) * (Math.max(a[1], a[3]) - Math.min(a[1], a[3]));
  const areaB = (Math.max(b[0], b[2]) - Math.min(b[0], b[2])) * (Math.max(b[1], b[3]) - Math.min(b[1], b[3]));
  if (areaA <= 0 || areaB <= 0) return 0;
  const width = Math.max(Math.min(Math.max(a[0], a[2]), Math.max(b[0], b[2])) - Math.max(Math.min(a[0], a[2]), Math.min(b[0], b[2])), 0);
  const height = Math.max(Math.min(Math.max(a[1], a[3]), Math.max(b[1], b[3])) - Math.max(Math.min(a[1], a[3]), Math.min(b[1], b[3])), 0);
  const intersection = width * height;
  return intersection / (areaA + areaB - intersection);
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
