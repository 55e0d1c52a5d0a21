import { z } from 'zod';

/**
 * `jobs.params`, one schema per job kind. Each default lives here and nowhere else: submission
 * writes params through these schemas, the GPU task and the status text read them back through
 * them, so a row written by an older release (a missing field) reads the same everywhere.
 */

/** Portraits come in sets of four. */
export const PORTRAIT_VARIANTS = 4;
/** How closely a portrait holds to the reference face when its style says nothing (0–1). */
export const DEFAULT_IDENTITY_STRENGTH = 0.7;
/** High fidelity keeps a loved one's face their own; restoration must not invent a new person. */
export const RESTORE_FIDELITY = 0.9;
/** The 8K long edge. */
export const UPSCALE_LONG_EDGE = 7680;
export const PROMPT_MAX = 300;

/** The likeness gate's verdict on a finished set, written with the job's completion. */
const likenessSummary = z.object({
  /** LIKENESS_MIN the set was measured against. */
  min: z.number(),
  /** Variants (0-based) still under `min`. */
  weak: z.array(z.number().int()),
  /** Credits refunded for them. */
  refunded: z.number().default(0),
  retries: z.number().default(0),
});

export const portraitParams = z.object({
  variants: z.number().int().min(1).max(8).default(PORTRAIT_VARIANTS),
  seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
  identityStrength: z.number().min(0).max(1).default(DEFAULT_IDENTITY_STRENGTH),
  prompt: z.string().max(PROMPT_MAX).optional(),
  likeness: likenessSummary.nullish(),
});

export const restoreParams = z.object({
  colorize: z.boolean().default(false),
  fidelity: z.number().min(0).max(1).default(RESTORE_FIDELITY),
  likeness: likenessSummary.nullish(),
});

export const upscaleParams = z.object({
  /** The result being enlarged, and which variant of its set it was. */
  resultId: z.uuid().optional(),
  variant: z.number().int().min(0).optional(),
  targetLongEdge: z.number().int().positive().default(UPSCALE_LONG_EDGE),
});

export type PortraitParams = z.infer<typeof portraitParams>;
export type RestoreParams = z.infer<typeof restoreParams>;
export type UpscaleParams = z.infer<typeof upscaleParams>;
export type LikenessSummary = z.infer<typeof likenessSummary>;

const SCHEMAS = { portrait: portraitParams, restore: restoreParams, upscale: upscaleParams } as const;
export type JobParamsOf = { portrait: PortraitParams; restore: RestoreParams; upscale: UpscaleParams };

/**
 * A job's params through its kind's schema: defaults filled, unknown keys dropped. Throws on a
 * value of the wrong type (a bug, or a row edited by hand): better than a NaN seed.
 */
export function readParams<K extends keyof JobParamsOf>(kind: K, raw: unknown): JobParamsOf[K] {
  return SCHEMAS[kind].parse(raw ?? {}) as JobParamsOf[K];
}

/** Params for a new job of `kind`, checked and with defaults written out, ready to store. */
export function newParams<K extends keyof JobParamsOf>(kind: K, given: z.input<(typeof SCHEMAS)[K]>): JobParamsOf[K] {
  return readParams(kind, given);
}
