import { readFileSync } from 'node:fs';
import { z } from 'zod';

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

const styleSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/),
  label: z.string().min(1),
  description: z.string().min(1),
  /** `{subject}` is replaced with a subject-aware noun phrase. */
  prompt: z.string().min(1),
  negativePrompt: z.string().default(''),
  identityStrength: z.number().min(0).max(1).default(0.7),
  grade: gradeSchema.default(gradeSchema.parse({})),
  /** Model ids per task, overriding the model catalog for this style. */
  models: z.partialRecord(z.enum(['portrait', 'restore', 'upscale']), z.string()).default({}),
});
export type Style = z.infer<typeof styleSchema>;

export const stylesFileSchema = z.array(styleSchema).min(1);

const COMMON_NEGATIVE = 'deformed face, extra fingers, watermark, text, different person, plastic skin';

type StyleInput = z.input<typeof styleSchema>;

const BUILT_IN_STYLES: StyleInput[] = [
  {
    id: 'studio', label: 'Studio portrait', description: 'Soft key light on a seamless grey backdrop.',
    prompt: 'studio portrait photograph of {subject}, soft key light, seamless grey backdrop, 85mm lens, natural skin texture',
    grade: { saturation: 1.05, brightness: 1.03, contrast: 1.08, tint: [1.03, 1, 0.98], vignette: 0.25 },
  },
  {
    id: 'headshot', label: 'Professional headshot', description: 'Clean, friendly business headshot for profiles and CVs.',
    prompt: 'professional corporate headshot of {subject}, business attire, bright even lighting, blurred office background',
    grade: { saturation: 1.0, brightness: 1.06, contrast: 1.05, tint: [1, 1, 1.02] }, identityStrength: 0.8,
  },
  {
    id: 'bw', label: 'Classic black & white', description: 'Timeless monochrome with deep blacks.',
    prompt: 'classic black and white portrait of {subject}, silver gelatin print, dramatic side light',
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
    grade: { greyscale: true, contrast: 1.45, brightness: 0.88, vignette: 0.6 },
  },
  {
    id: 'vintage-1950s', label: '1950s vintage', description: 'Faded Kodachrome colours of a mid-century studio.',
    prompt: '1950s vintage colour photograph of {subject}, Kodachrome, mid-century studio portrait, film grain',
    grade: { saturation: 0.75, brightness: 1.04, contrast: 0.95, tint: [1.1, 1.02, 0.85], vignette: 0.3 },
  },
  {
    id: 'young-again', label: 'Young again', description: 'The same person, decades younger.',
    prompt: 'portrait of {subject} as a young adult in their twenties, same facial features, same person, natural light',
    grade: { saturation: 1.1, brightness: 1.08, contrast: 1.0, tint: [1.02, 1.01, 1], blur: 0.4 }, identityStrength: 0.85,
  },
  {
    id: 'fantasy', label: 'Fantasy character', description: 'A hero of an epic tale, painted in rich light.',
    prompt: 'epic fantasy character portrait of {subject}, ornate armour, magical rim light, detailed concept art',
    grade: { saturation: 1.3, brightness: 1.0, contrast: 1.2, tint: [0.95, 1.0, 1.12], vignette: 0.45 },
  },
  {
    id: 'memorial', label: 'Memorial', description: 'A soft, dignified portrait to remember someone by.',
    prompt: 'soft dignified memorial portrait of {subject}, gentle warm light, calm expression, simple background',
    grade: { saturation: 0.9, brightness: 1.06, contrast: 0.95, tint: [1.05, 1.02, 0.97], blur: 0.3, vignette: 0.3 },
    identityStrength: 0.9,
  },
  {
    id: 'golden-hour', label: 'Golden hour', description: 'Outdoors in warm, low evening sun.',
    prompt: 'outdoor portrait of {subject} at golden hour, warm backlight, shallow depth of field',
    grade: { saturation: 1.15, brightness: 1.05, contrast: 1.05, tint: [1.12, 1.03, 0.86] },
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

export function createStyleCatalog(stylesFile?: string): StyleCatalog {
  const raw: unknown = stylesFile ? JSON.parse(readFileSync(stylesFile, 'utf8')) : BUILT_IN;
  const styles = stylesFileSchema.parse(raw);
  const byId = new Map(styles.map((s) => [s.id, s]));
  return { list: () => styles, get: (id) => byId.get(id.toLowerCase()), defaultId: byId.has('studio') ? 'studio' : styles[0]!.id };
}

/** Fills a style's prompt for the subject; memorial wording stays gentle. */
export function renderPrompt(style: Style, subject: Subject, extra?: string): string {
  const noun = { me: 'the person in the reference photos', someone: 'the person in the reference photos', memorial: 'the beloved person in the reference photos, as they were in life' }[subject];
  const base = style.prompt.replaceAll('{subject}', noun);
  return extra ? `${base}, ${extra}` : base;
}
