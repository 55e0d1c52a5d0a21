/** Pure geometry for the CPU portrait preview: where to crop each variant around the face. No I/O. */

export interface Size {
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

/** A crop rectangle in whole pixels, inside the image it was computed for. */
export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Where the subject's face is: the horizontal centre, the eye line and the face's height, in image pixels. */
export interface FaceAnchor {
  x: number;
  eyeY: number;
  faceHeight: number;
}

/** One way to frame a portrait. */
export interface Shot {
  name: string;
  /** Width / height of the frame. */
  aspect: number;
  /** The face's height as a share of the frame's height: larger is tighter. */
  faceShare: number;
  /** Where the eyes sit, as a share of the frame's height from the top. */
  eyeLine: number;
  /** How far the face sits off-centre, as a share of the frame's width (towards the side with more room). */
  offCentre: number;
}

/**
 * The four shots of a set, in variant order: a 4:5 headshot with the eyes on the upper third, a
 * looser 4:5 head-and-shoulders, a square close-up, and a 4:5 with the face off-centre.
 */
export const SHOTS: readonly Shot[] = [
  { name: 'headshot', aspect: 4 / 5, faceShare: 0.48, eyeLine: 1 / 3, offCentre: 0 },
  { name: 'head-and-shoulders', aspect: 4 / 5, faceShare: 0.3, eyeLine: 0.3, offCentre: 0 },
  { name: 'square', aspect: 1, faceShare: 0.44, eyeLine: 0.38, offCentre: 0 },
  { name: 'off-centre', aspect: 4 / 5, faceShare: 0.36, eyeLine: 1 / 3, offCentre: 0.14 },
];

/** The shot a variant uses: they cycle after four. */
export const shotFor = (variant: number): Shot => SHOTS[variant % SHOTS.length]!;

/** The largest seed-driven change of a frame's size and position, as a fraction. */
const MAX_JITTER = 0.04;

/** A deterministic random sequence in [0, 1) for a seed (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The crop for one variant: the shot's frame sized so the face fills its share of the height, the
 * eyes on the shot's eye line, nudged by the seed, and kept inside the image (when the image is
 * too small for the framing, the largest frame of the shot's aspect that fits, as near the ideal
 * as it can be). Same inputs, same frame.
 */
export function shotFrame(image: Size, face: FaceAnchor, shot: Shot, variant: number, seed: number): Region {
  const random = seededRandom(Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(variant + 1, 0x85ebca6b));
  const jitter = (): number => (random() * 2 - 1) * MAX_JITTER;

  let height = (face.faceHeight / shot.faceShare) * (1 + jitter());
  let width = height * shot.aspect;
  const fit = Math.min(1, image.width / width, image.height / height);
  width = clamp(Math.round(width * fit), 1, image.width);
  height = clamp(Math.round(width / shot.aspect), 1, image.height);

  const roomRight = image.width - face.x;
  const towards = roomRight >= face.x ? 1 : -1;
  const left = face.x - width / 2 + towards * shot.offCentre * width + jitter() * width;
  const top = face.eyeY - shot.eyeLine * height + jitter() * height;
  return {
    left: clamp(Math.round(left), 0, image.width - width),
    top: clamp(Math.round(top), 0, image.height - height),
    width,
    height,
  };
}

/**
 * A face anchor from a face box (and its eyes, when known). BlazeFace boxes run from about the
 * eyebrows to the chin, so without eyes the eye line is taken at 40% of the box.
 */
export function anchorFromFace(face: { left: number; top: number; width: number; height: number; eyes?: { left: Point; right: Point } }): FaceAnchor {
  if (face.eyes) {
    return { x: (face.eyes.left.x + face.eyes.right.x) / 2, eyeY: (face.eyes.left.y + face.eyes.right.y) / 2, faceHeight: face.height };
  }
  return { x: face.left + face.width / 2, eyeY: face.top + face.height * 0.4, faceHeight: face.height };
}

/** A square in an image's pixels (a face's square: see face-detector.ts). */
export interface Square {
  left: number;
  top: number;
  side: number;
}

/**
 * Where a square of the photo lands in a variant made by cutting `frame` out of the photo and
 * resizing it to cover `output` (centred, as sharp's `fit: 'cover'` does).
 */
export function squareInShot(square: Square, frame: Region, output: Size): Square {
  const scale = Math.max(output.width / frame.width, output.height / frame.height);
  const offsetX = (frame.width * scale - output.width) / 2;
  const offsetY = (frame.height * scale - output.height) / 2;
  return {
    left: (square.left - frame.left) * scale - offsetX,
    top: (square.top - frame.top) * scale - offsetY,
    side: square.side * scale,
  };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
