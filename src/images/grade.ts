import type { Sharp } from 'sharp';
import type { Grade } from '../gpu/styles.js';

type Matrix3 = [[number, number, number], [number, number, number], [number, number, number]];

/** Rec. 709 luma weights: greyscale that keeps three equal channels (sRGB out, not a 1-band image). */
const LUMA: Matrix3 = [
  [0.2126, 0.7152, 0.0722],
  [0.2126, 0.7152, 0.0722],
  [0.2126, 0.7152, 0.0722],
];
const IDENTITY: Matrix3 = [
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
];
/** sharp refuses blur sigmas below this. */
const MIN_BLUR_SIGMA = 0.3;

/** The sharp operations a Grade becomes, before the vignette. Pure, so it is easy to test and reason about. */
export interface GradeOps {
  /** Greyscale and tint as one colour matrix; absent when it would change nothing. */
  recomb?: Matrix3;
  /** Colour saturation multiplier; absent when 1 or greyscale. */
  saturation?: number;
  /** Brightness and contrast as `a * x + b` about mid-grey; absent when neutral. */
  linear?: { a: number; b: number };
  blurSigma?: number;
}

/**
 * Translates a Grade into sharp operations (the vignette is drawn separately). `fade` (0..1) lifts
 * the blacks towards grey after the tone change: y = (1 - fade) * x + 255 * fade.
 */
export function gradeOps(grade: Grade, fade = 0): GradeOps {
  const ops: GradeOps = {};
  const base = grade.greyscale ? LUMA : IDENTITY;
  const [r, g, b] = grade.tint;
  if (grade.greyscale || r !== 1 || g !== 1 || b !== 1) {
    ops.recomb = [base[0].map((v) => v * r), base[1].map((v) => v * g), base[2].map((v) => v * b)] as Matrix3;
  }
  if (!grade.greyscale && grade.saturation !== 1) ops.saturation = grade.saturation;
  if (grade.contrast !== 1 || grade.brightness !== 1) {
    // Contrast pivots on mid-grey, then brightness scales: brightness * (contrast * (x - 128) + 128).
    ops.linear = { a: grade.brightness * grade.contrast, b: grade.brightness * 128 * (1 - grade.contrast) };
  }
  if (fade > 0) {
    const { a, b } = ops.linear ?? { a: 1, b: 0 };
    ops.linear = { a: (1 - fade) * a, b: (1 - fade) * b + 255 * fade };
  }
  if (grade.blur >= MIN_BLUR_SIGMA) ops.blurSigma = grade.blur;
  return ops;
}

/**
 * Adds a Grade's colour, tone and blur to a pipeline. sharp applies these in its own fixed order
 * (blur, recomb, modulate, linear), which is the order this grade is designed for.
 */
export function applyGrade(pipeline: Sharp, grade: Grade, fade = 0): Sharp {
  const ops = gradeOps(grade, fade);
  if (ops.blurSigma !== undefined) pipeline = pipeline.blur(ops.blurSigma);
  if (ops.recomb) pipeline = pipeline.recomb(ops.recomb);
  if (ops.saturation !== undefined) pipeline = pipeline.modulate({ saturation: ops.saturation });
  if (ops.linear) pipeline = pipeline.linear(ops.linear.a, ops.linear.b);
  return pipeline;
}
