import type { Grade } from '../gpu/styles.js';

/**
 * A finished photographic look for the CPU preview: a Grade (colour, tone, blur, vignette) plus the
 * film-like touches a Grade cannot express. Pure data; portrait-preview.ts renders it.
 */
export interface Look extends Grade {
  /** Lifts the blacks towards grey (a matte print), 0..0.2. */
  fade: number;
  /** Film grain strength, 0..1. */
  grain: number;
  /** Soft glow: a blurred copy screened over the picture at this opacity, 0..1. */
  glow: number;
}

const NEUTRAL: Look = {
  saturation: 1,
  brightness: 1,
  contrast: 1,
  tint: [1, 1, 1],
  greyscale: false,
  blur: 0,
  vignette: 0,
  fade: 0,
  grain: 0,
  glow: 0,
};

/** A Look from a plain Grade: no fade, grain or glow. */
export function lookFromGrade(grade: Grade): Look {
  return { ...NEUTRAL, ...grade };
}

/** The named looks of the local backend (each built-in style maps to one, or to its own Grade). */
export const LOOKS = {
  /** Clean and a little warm, with a gentle vignette: the default. */
  studio: { ...NEUTRAL, saturation: 1.06, brightness: 1.03, contrast: 1.1, tint: [1.03, 1, 0.97], vignette: 0.28, glow: 0.06 },
  /** Neutral monochrome, deep blacks, fine grain. */
  'classic-bw': { ...NEUTRAL, greyscale: true, contrast: 1.3, vignette: 0.4, grain: 0.12 },
  /** Brown-toned monochrome on a faded print, like a portrait from the family album. */
  'sepia-heritage': { ...NEUTRAL, greyscale: true, tint: [1.12, 0.97, 0.76], contrast: 0.95, brightness: 1.02, fade: 0.07, vignette: 0.5, grain: 0.18 },
  /** Warm, slightly muted colour, matte blacks and visible grain: a film snapshot. */
  'warm-film': { ...NEUTRAL, saturation: 0.85, tint: [1.12, 1.01, 0.8], contrast: 1.08, fade: 0.11, grain: 0.25, vignette: 0.25 },
  /** Bright, low-contrast and airy, with a soft glow. */
  'high-key': { ...NEUTRAL, brightness: 1.22, contrast: 0.74, saturation: 0.9, tint: [1, 1.01, 1.03], glow: 0.3 },
  /** Gentle, warm and soft: for remembering someone. */
  'soft-memorial': { ...NEUTRAL, saturation: 0.62, tint: [1.06, 1.02, 0.93], contrast: 0.86, brightness: 1.06, fade: 0.06, glow: 0.4, blur: 0.5, vignette: 0.45 },
} satisfies Record<string, Look>;

export type LookName = keyof typeof LOOKS;

/**
 * The same look, nudged per variant so the four pictures of a set differ in light as well as in
 * framing: a touch brighter, darker-edged or (in colour) warmer. Variant 0 is the look itself.
 */
export function variantLook(look: Look, variant: number): Look {
  const nudges = [
    { brightness: 1, vignette: 1, warmth: 1 },
    { brightness: 1.04, vignette: 0.75, warmth: 0.99 },
    { brightness: 0.97, vignette: 1.25, warmth: 1.01 },
    { brightness: 1.01, vignette: 1, warmth: 1.03 },
  ] as const;
  const n = nudges[variant % nudges.length]!;
  const [r, g, b] = look.tint;
  // A neutral black and white stays neutral: no warmth nudge for greyscale looks.
  const warmth = look.greyscale ? 1 : n.warmth;
  return {
    ...look,
    brightness: look.brightness * n.brightness,
    vignette: Math.min(1, look.vignette * n.vignette),
    tint: [r * warmth, g, b / warmth],
  };
}
