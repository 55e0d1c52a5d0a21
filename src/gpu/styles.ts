import { z } from 'zod';
import { parseCatalogFile } from './catalog-file.js';

export const SUBJECTS = ['me', 'someone', 'memorial'] as const;
/** Who is in the photos: the requester, a living person (with permission), or someone who has died. */
export type Subject = (typeof SUBJECTS)[number];

/** How the CPU preview grades a portrait: a cheap stand-in for the style a GPU model paints. */
const gradeSchema = z.object({
  saturation: z.number().min(0).max(3).default(1),
  brightness: z.number().min(0.2).max(3).default(1),
  contrast: z.number().min(0.2).max(3).default(1),
  /** Multiplies each channel, e.g. [1.08, 1, 0.9] warms. */
  tint: z.tuple([z.number(), z.number(), z.number()]).default([1, 1, 1]),
  greyscale: z.boolean().default(false),
  blur: z.number().min(0).max(10).default(0),
  vignette: z.number().min(0).max(1).default(0),
});
export type Grade = z.infer<typeof gradeSchema>;

/** How much a 👎 "not them" re-roll raises identity strength, for a style that does not say. */
export const DEFAULT_IDENTITY_STEP = 0.15;

/** Wording of a style for one kind of subject; either part replaces the style's own. */
const subjectWordingSchema = z.object({
  prompt: z.string().min(1).optional(),
  negativePrompt: z.string().optional(),
});

const styleSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/),
  label: z.string().min(1),
  description: z.string().min(1),
  /** `{subject}` is replaced with a subject-aware noun phrase (see {@link renderPrompt}). */
  prompt: z.string().min(1),
  negativePrompt: z.string().default(''),
  /** Per-subject wording, e.g. a gentler memorial prompt; the style's own prompt is used for the rest. */
  subjects: z.partialRecord(z.enum(SUBJECTS), subjectWordingSchema).default({}),
  identityStrength: z.number().min(0).max(1).default(0.7),
  /** How much each 👎 "not them" re-roll raises identity strength (capped at 1). */
  identityStep: z.number().min(0).max(1).default(DEFAULT_IDENTITY_STEP),
  grade: gradeSchema.default(gradeSchema.parse({})),
  /**
   * Model ids per task, tried before the model catalog's own for this style (each must be in the
   * model catalog). Only portraits have a style today; restore and upscale jobs carry none.
   */
  models: z.partialRecord(z.enum(['portrait', 'restore', 'colorize', 'upscale']), z.string()).default({}),
});
export type Style = z.infer<typeof styleSchema>;

export const stylesFileSchema = z
  .array(styleSchema)
  .min(1)
  .refine((styles) => new Set(styles.map((s) => s.id)).size === styles.length, 'style ids must be unique');

const COMMON_NEGATIVE = 'deformed face, extra fingers, watermark, text, different person, plastic skin';
/** Added for someone who has died: nothing macabre, nothing mocking. */
const MEMORIAL_NEGATIVE = 'ghostly, zombie, skull, gore, horror, caricature, costume, sad tears, halo, wings';

type StyleInput = z.input<typeof styleSchema>;

const BUILT_IN_STYLES: StyleInput[] = [
  {
    id: 'studio', label: 'Studio portrait', description: 'Soft key light on a seamless grey backdrop.',
    prompt: 'studio portrait photograph of {subject}, soft key light, seamless grey backdrop, 85mm lens, natural skin texture',
    subjects: { memorial: { prompt: 'gentle studio portrait photograph of {subject}, soft warm key light, seamless grey backdrop, calm natural expression' } },
    grade: { saturation: 1.05, brightness: 1.03, contrast: 1.08, tint: [1.03, 1, 0.98], vignette: 0.25 },
  },
  {
    id: 'headshot', label: 'Professional headshot', description: 'Clean, friendly business headshot for profiles and CVs.',
    prompt: 'professional corporate headshot of {subject}, business attire, bright even lighting, blurred office background, friendly confident expression',
    subjects: { memorial: { prompt: 'dignified formal portrait of {subject}, smart attire, bright even lighting, plain softly blurred background' } },
    grade: { saturation: 1.0, brightness: 1.06, contrast: 1.05, tint: [1, 1, 1.02] }, identityStrength: 0.8,
  },
  {
    id: 'bw', label: 'Classic black & white', description: 'Timeless monochrome with deep blacks.',
    prompt: 'classic black and white portrait of {subject}, silver gelatin print, dramatic side light',
    subjects: { memorial: { prompt: 'timeless black and white portrait of {subject}, silver gelatin print, soft window light, serene expression' } },
    grade: { greyscale: true, contrast: 1.25, brightness: 1.0, vignette: 0.35 },
  },
  {
    id: 'renaissance', label: 'Renaissance oil painting', description: 'An oil portrait in the manner of the old masters.',
    prompt: 'Renaissance oil painting portrait of {subject}, chiaroscuro, craquelure, museum quality, dark umber background',
    grade: { saturation: 0.85, contrast: 1.2, brightness: 0.95, tint: [1.12, 1.0, 0.78], blur: 0.6, vignette: 0.5 },
  },
  {
    id: 'watercolour', label: 'Watercolour', description: 'Loose, luminous watercolour on paper.',
    prompt: 'delicate watercolour portrait of {subject}, soft washes, paper texture, light and airy',
    grade: { saturation: 0.8, brightness: 1.15, contrast: 0.85, tint: [1.0, 1.02, 1.06], blur: 1.2 },
  },
  {
    id: 'noir', label: 'Film noir', description: 'Hard light, venetian-blind shadows, 1940s mystery.',
    prompt: 'film noir portrait of {subject}, hard light through venetian blinds, 1940s, high contrast monochrome',
    subjects: { memorial: { prompt: 'elegant 1940s black and white portrait of {subject}, soft venetian-blind light, classic Hollywood glamour, calm expression' } },
    grade: { greyscale: true, contrast: 1.45, brightness: 0.88, vignette: 0.6 },
  },
  {
    id: 'vintage-1950s', label: '1950s vintage', description: 'Faded Kodachrome colours of a mid-century studio.',
    prompt: '1950s vintage colour photograph of {subject}, Kodachrome, mid-century studio portrait, film grain',
    grade: { saturation: 0.75, brightness: 1.04, contrast: 0.95, tint: [1.1, 1.02, 0.85], vignette: 0.3 },
  },
  {
    id: 'young-again', label: 'Young again', description: 'The same person, decades younger.',
    prompt: 'portrait of {subject} decades younger, as a young adult in their early twenties, same facial features, same person, natural light, period-appropriate hair and clothes',
    subjects: {
      me: { prompt: 'portrait of {subject} decades younger, as they would have looked in their early twenties, same facial features, same person, natural light' },
      memorial: { prompt: 'portrait of {subject} in their youth, in their early twenties, same facial features, same person, soft nostalgic light, period-appropriate hair and clothes' },
    },
    negativePrompt: `${COMMON_NEGATIVE}, wrinkles, grey hair, child, teenager`,
    grade: { saturation: 1.1, brightness: 1.08, contrast: 1.0, tint: [1.02, 1.01, 1], blur: 0.4 }, identityStrength: 0.85,
  },
  {
    id: 'fantasy', label: 'Fantasy character', description: 'A hero of an epic tale, painted in rich light.',
    prompt: 'epic fantasy character portrait of {subject}, ornate armour, magical rim light, detailed concept art',
    subjects: { memorial: { prompt: 'noble fantasy portrait of {subject} as a wise and kind hero of an old tale, rich robes, warm golden light, detailed painting' } },
    grade: { saturation: 1.3, brightness: 1.0, contrast: 1.2, tint: [0.95, 1.0, 1.12], vignette: 0.45 },
  },
  {
    id: 'memorial', label: 'Memorial', description: 'A soft, dignified portrait to remember someone by.',
    prompt: 'soft dignified portrait of {subject}, gentle warm light, calm kind expression, simple light background',
    subjects: { memorial: { prompt: 'soft dignified memorial portrait of {subject}, gentle warm light, calm kind expression, simple light background, timeless' } },
    grade: { saturation: 0.9, brightness: 1.06, contrast: 0.95, tint: [1.05, 1.02, 0.97], blur: 0.3, vignette: 0.3 },
    identityStrength: 0.9, identityStep: 0.1,
  },
  {
    id: 'golden-hour', label: 'Golden hour', description: 'Outdoors in warm, low evening sun.',
    prompt: 'outdoor portrait of {subject} at golden hour, warm backlight, shallow depth of field',
    grade: { saturation: 1.15, brightness: 1.05, contrast: 1.05, tint: [1.12, 1.03, 0.86] },
  },
  {
    id: 'sepia-heritage', label: 'Sepia heritage', description: 'Warm brown tones of a treasured family album.',
    prompt: 'antique sepia-toned heritage portrait of {subject}, early twentieth century studio, soft window light',
    grade: { greyscale: true, tint: [1.12, 0.97, 0.76], contrast: 0.95, brightness: 1.02, vignette: 0.5 },
  },
  {
    id: 'warm-film', label: 'Warm film', description: 'Soft, warm colour film with gentle grain.',
    prompt: 'portrait of {subject} on warm colour film, 35mm, soft natural light, gentle grain',
    grade: { saturation: 0.85, tint: [1.12, 1.01, 0.8], contrast: 1.08, vignette: 0.25 },
  },
  {
    id: 'high-key', label: 'High-key', description: 'Bright, airy and light on a white backdrop.',
    prompt: 'high-key portrait of {subject}, bright white backdrop, soft even light, airy and clean',
    grade: { brightness: 1.22, contrast: 0.74, saturation: 0.9, tint: [1, 1.01, 1.03] },
  },
  {
    id: 'cinematic', label: 'Cinematic', description: 'Teal and orange, like a still from a film.',
    prompt: 'cinematic film still of {subject}, anamorphic lens, teal and orange grade, moody light',
    grade: { saturation: 1.1, brightness: 0.97, contrast: 1.2, tint: [1.06, 0.98, 1.04], vignette: 0.4 },
  },
];
const BUILT_IN = BUILT_IN_STYLES.map((s) => ({ negativePrompt: COMMON_NEGATIVE, ...s }));

/** The style catalog: built in, or replaced wholesale by `STYLES_FILE` (a JSON array). */
export interface StyleCatalog {
  list(): readonly Style[];
  get(id: string): Style | undefined;
  readonly defaultId: string;
}

/** Builds the catalog; a bad `STYLES_FILE` throws ConfigError naming every problem in it. */
export function createStyleCatalog(stylesFile?: string): StyleCatalog {
  const styles = stylesFile ? parseCatalogFile('STYLES_FILE', stylesFile, stylesFileSchema) : stylesFileSchema.parse(BUILT_IN);
  const byId = new Map(styles.map((s) => [s.id, s]));
  return { list: () => styles, get: (id) => byId.get(id.toLowerCase()), defaultId: byId.has('studio') ? 'studio' : styles[0]!.id };
}

/** How `{subject}` reads for each kind of subject. A memorial speaks of the person as they were in life. */
const SUBJECT_NOUN: Record<Subject, string> = {
  me: 'the person in the reference photos',
  someone: 'the person in the reference photos',
  memorial: 'the beloved person in the reference photos, as they were in life',
};

/** Said of every subject: the pictures are of this one person, not someone who looks a bit like them. */
const SUBJECT_CLAUSE: Record<Subject, string> = {
  me: '',
  someone: 'a respectful, flattering likeness',
  memorial: 'dignified and respectful, natural expression',
};

/**
 * Identity wording by strength: models without an identity parameter hold closer to the reference
 * face when told to. Each band starts at its `from` strength; the strongest matching band wins.
 */
const IDENTITY_BANDS: ReadonlyArray<{ from: number; text: string }> = [
  { from: 0, text: '' },
  { from: 0.6, text: 'clearly recognisable as the same person as in the reference photos' },
  { from: 0.8, text: 'exactly the same person as in the reference photos: same face shape, eyes, nose, mouth and skin tone' },
  {
    from: 0.95,
    text: 'keep the face identical to the reference photos: same face shape, eyes, nose, mouth, ears, hairline, skin tone and distinguishing marks; do not beautify or alter the face',
  },
];

/** The identity phrase for a strength (0..1); empty below the first band. */
export function identityPhrase(strength: number): string {
  let text = '';
  for (const band of IDENTITY_BANDS) if (strength >= band.from - 1e-9) text = band.text;
  return text;
}

/**
 * Fills a style's prompt for the subject: the style's wording for that subject (or its own), the
 * subject's noun phrase, the subject's tone (gentle for a memorial), the identity phrase for
 * `identityStrength` (default: the style's), then the user's own words.
 */
export function renderPrompt(style: Style, subject: Subject, extra?: string, identityStrength = style.identityStrength): string {
  const template = style.subjects[subject]?.prompt ?? style.prompt;
  const parts = [template.replaceAll('{subject}', SUBJECT_NOUN[subject]), SUBJECT_CLAUSE[subject], identityPhrase(identityStrength), extra?.trim()];
  return parts.filter((p): p is string => Boolean(p)).join(', ');
}

/** The negative prompt for a subject: the style's (or its per-subject one), plus what a memorial must never show. */
export function renderNegativePrompt(style: Style, subject: Subject): string {
  const base = style.subjects[subject]?.negativePrompt ?? style.negativePrompt;
  return subject === 'memorial' ? [base, MEMORIAL_NEGATIVE].filter(Boolean).join(', ') : base;
}

/** The identity strength of a 👎 "not them" re-roll after one at `current`: one step of the style's, capped at 1. */
export function strongerIdentity(style: Pick<Style, 'identityStep'> | undefined, current: number): number {
  const step = style?.identityStep ?? DEFAULT_IDENTITY_STEP;
  return Math.min(1, Math.round((current + step) * 1000) / 1000);
}
