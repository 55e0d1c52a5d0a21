/** Pure geometry for the CPU portrait preview: where to crop each variant. No I/O. */

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

/** How much of the largest possible frame each variant shows, from loose to tight; cycles after four. */
const VARIANT_ZOOM = [1, 0.8, 0.66, 0.9] as const;
/** The focus sits this far down the frame: a portrait keeps the face in the upper part. */
const FOCUS_FROM_TOP = 0.4;
/** The largest seed-driven shift of a frame, as a fraction of its size. */
const MAX_JITTER = 0.05;

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
 * The crop for one portrait variant: a frame of the given aspect (width / height) around `focus`,
 * zoomed per variant index and nudged by the seed, always inside the image. Same inputs, same frame.
 */
export function portraitFrame(image: Size, focus: Point, aspect: number, variant: number, seed: number): Region {
  const random = seededRandom(Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(variant + 1, 0x85ebca6b));
  const jitter = (): number => (random() * 2 - 1) * MAX_JITTER;
  const zoom = Math.min(1, VARIANT_ZOOM[variant % VARIANT_ZOOM.length]! * (1 + jitter()));

  const largestWidth = Math.min(image.width, image.height * aspect);
  const width = clamp(Math.round(largestWidth * zoom), 1, image.width);
  const height = clamp(Math.round(width / aspect), 1, image.height);

  const left = focus.x - width / 2 + jitter() * width;
  const top = focus.y - height * FOCUS_FROM_TOP + jitter() * height;
  return {
    left: clamp(Math.round(left), 0, image.width - width),
    top: clamp(Math.round(top), 0, image.height - height),
    width,
    height,
  };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
