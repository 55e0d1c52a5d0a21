import { z } from 'zod';
import { ConfigError } from '../config.js';
import { parseCatalogFile } from './catalog-file.js';
import type { StyleCatalog } from './styles.js';

/**
 * The model catalog: which model does each task, how its input is built, where its images are in
 * its output, and what a run costs. Built in, or replaced wholesale by `MODELS_FILE` (JSON of the
 * same shape). Changing a model is an edit of the catalog, not of code.
 *
 * An input template is the model's input object with placeholders: a string that is exactly
 * `"{{name}}"` becomes the value itself (a number, a list of images…) and is left out when the task
 * has no such value; `{{name}}` inside a longer string is replaced by its text; and
 * `{ "$scale": "name", "to": [lo, hi] }` maps a 0..1 value onto lo..hi (e.g. identity strength onto
 * a model's own identity weight). Values by task:
 *
 * - portrait: `prompt`, `negative_prompt`, `photos` (up to `maxPhotos` reference images), `photo`
 *   (the first), `seed`, `variants` (images wanted from this call), `identity_strength` (0..1)
 * - restore: `image`, `fidelity` (0..1, high keeps the face the person's own)
 * - colorize: `image`
 * - upscale: `image`, `target_long_edge`
 */

export const MODEL_TASKS = ['portrait', 'restore', 'colorize', 'upscale'] as const;
export type ModelTask = (typeof MODEL_TASKS)[number];

const placeholderName = /^[a-z_]+$/;

const priceSchema = z.union([
  /** A flat price per prediction (models billed per run). */
  z.object({ perRun: z.number().min(0) }).strict(),
  /** A price per output image. */
  z.object({ perImage: z.number().min(0) }).strict(),
  /** USD per second of `metrics.predict_time`. */
  z.object({ perSecond: z.number().min(0) }).strict(),
  /** A hardware class of the catalog's `hardware` table, billed per second of `metrics.predict_time`. */
  z.object({ hardware: z.string().min(1) }).strict(),
]);
export type ModelPrice = z.infer<typeof priceSchema>;

const modelSchema = z
  .object({
    /** Pinned version (64 hex digits) for community models; official models run by name and need none. */
    version: z.string().regex(/^[0-9a-f]{64}$/, 'expected a 64-digit hex version id').optional(),
    description: z.string().optional(),
    /** The input template (see the module comment). */
    input: z.record(z.string(), z.unknown()),
    /** Dot path to the images in the output (e.g. `images`); default: the whole output. Files are URLs or data URIs. */
    outputPath: z.string().optional(),
    /** Most reference photos the model takes as `photos`; extra ones are left out. */
    maxPhotos: z.int().min(1).default(1),
    /** When the model makes several images in one call: the input field for the count, and the most per call. */
    batch: z.object({ field: z.string().min(1), max: z.int().min(1) }).strict().optional(),
    price: priceSchema,
  })
  .strict();
export type ModelSpec = z.infer<typeof modelSchema>;

const modelIds = z.array(z.string()).min(1);

/** Published per-second prices of Replicate's hardware classes (USD), as of this writing: check replicate.com/pricing. */
export const HARDWARE_PRICES: Record<string, number> = {
  cpu: 0.0001,
  'nvidia-t4': 0.000225,
  'nvidia-a40-large': 0.000725,
  'nvidia-l40s': 0.000975,
  'nvidia-a100-80gb': 0.0014,
  'nvidia-h100': 0.001525,
};

const catalogSchema = z
  .object({
    /** USD per second by hardware class, for `{ "hardware": … }` prices. */
    hardware: z.record(z.string(), z.number().min(0)).default(HARDWARE_PRICES),
    /** Models by id (`owner/name`). */
    models: z.record(z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'expected owner/name'), modelSchema),
    /** Per task, the models to use in order: the first, then the next when one is unavailable. */
    tasks: z.object({ portrait: modelIds, restore: modelIds, colorize: modelIds, upscale: modelIds }).strict(),
  })
  .strict()
  .superRefine((catalog, ctx) => {
    for (const task of MODEL_TASKS) {
      catalog.tasks[task].forEach((id, i) => {
        if (!catalog.models[id]) ctx.addIssue({ code: 'custom', path: ['tasks', task, i], message: `model "${id}" is not in models` });
      });
    }
    for (const [id, model] of Object.entries(catalog.models)) {
      if ('hardware' in model.price && catalog.hardware[model.price.hardware] === undefined) {
        ctx.addIssue({ code: 'custom', path: ['models', id, 'price', 'hardware'], message: `unknown hardware "${model.price.hardware}"` });
      }
      for (const problem of templateProblems(model.input)) ctx.addIssue({ code: 'custom', path: ['models', id, 'input', ...problem.path], message: problem.message });
    }
  });
export type ModelCatalogData = z.infer<typeof catalogSchema>;

const IMAGE_OUT = { output_format: 'jpg' } as const;

/** The defaults, from each model's published input schema on Replicate. */
const BUILT_IN: z.input<typeof catalogSchema> = {
  models: {
    // Multi-reference identity model: up to 8 reference photos of the person in `input_images`.
    'black-forest-labs/flux-2-pro': {
      description: 'FLUX.2 [pro]: generation with up to 8 reference images',
      input: {
        prompt: '{{prompt}}',
        input_images: '{{photos}}',
        aspect_ratio: '4:5',
        resolution: '1 MP',
        seed: '{{seed}}',
        ...IMAGE_OUT,
        output_quality: 95,
        safety_tolerance: 2,
      },
      maxPhotos: 8,
      // Billed by megapixels in and out; about this much for 1 MP out with a few references.
      price: { perRun: 0.03 },
    },
    // Single-image fallback: one reference photo in `input_image`.
    'black-forest-labs/flux-kontext-pro': {
      description: 'FLUX.1 Kontext [pro]: editing from one reference image',
      input: { prompt: '{{prompt}}', input_image: '{{photo}}', aspect_ratio: '4:5', seed: '{{seed}}', ...IMAGE_OUT, safety_tolerance: 2 },
      maxPhotos: 1,
      price: { perRun: 0.04 },
    },
    // Open weights: the portrait model for self-hosted Cog workers.
    'black-forest-labs/flux-kontext-dev': {
      description: 'FLUX.1 Kontext [dev]: open-weights editing from one reference image',
      input: { prompt: '{{prompt}}', input_image: '{{photo}}', aspect_ratio: '4:5', seed: '{{seed}}', ...IMAGE_OUT, output_quality: 95 },
      maxPhotos: 1,
      price: { perRun: 0.025 },
    },
    // High fidelity keeps a loved one's face their own; the task passes it (0.9 by default).
    'sczhou/codeformer': {
      version: '7de2ea26c616d5bf2245ad0d5e24f0ff9a6204578a5c876db53142edd9d2cd56',
      description: 'CodeFormer: blind face restoration',
      input: { image: '{{image}}', codeformer_fidelity: '{{fidelity}}', background_enhance: true, face_upsample: true, upscale: 2 },
      price: { hardware: 'nvidia-t4' },
    },
    'piddnad/ddcolor': {
      version: 'ca494ba129e44e45f661d6ece83c4c98a9a7c774309beca01429b58fce8aa695',
      description: 'DDColor: photo colorization',
      input: { image: '{{image}}', model_size: 'large' },
      price: { hardware: 'nvidia-t4' },
    },
    // GFPGAN face enhancement repaints faces; off, so an upscale never changes who it is.
    'nightmareai/real-esrgan': {
      version: 'f121d640bd286e1fdc67f9799164c1d5be36ff74576ee11c803ae5b665dd46aa',
      description: 'Real-ESRGAN: 4x super-resolution (sharp then resizes to the exact target)',
      input: { image: '{{image}}', scale: 4, face_enhance: false },
      price: { hardware: 'nvidia-t4' },
    },
  },
  tasks: {
    portrait: ['black-forest-labs/flux-2-pro', 'black-forest-labs/flux-kontext-pro', 'black-forest-labs/flux-kontext-dev'],
    restore: ['sczhou/codeformer'],
    colorize: ['piddnad/ddcolor'],
    upscale: ['nightmareai/real-esrgan'],
  },
};

/** The model catalog, parsed and checked. */
export interface ModelCatalog {
  readonly data: ModelCatalogData;
  /** A model by id, or undefined. */
  get(id: string): ModelSpec | undefined;
  /** The models to try for a task, in order; `preferred` (a style's override) goes first. */
  modelsFor(task: ModelTask, preferred?: string): string[];
  /** USD for one prediction of `model` that ran `predictSeconds` and made `images` images. */
  costOf(model: ModelSpec, predictSeconds: number, images: number): number;
}

/**
 * Builds the catalog from `MODELS_FILE` (or the built-in one). With `styles`, also checks that
 * every style's model override names a model of the catalog. Throws ConfigError naming every problem.
 */
export function createModelCatalog(modelsFile?: string, styles?: StyleCatalog): ModelCatalog {
  const data = modelsFile ? parseCatalogFile('MODELS_FILE', modelsFile, catalogSchema) : catalogSchema.parse(BUILT_IN);
  if (styles) {
    const problems = styles
      .list()
      .flatMap((style) =>
        Object.entries(style.models)
          .filter(([, id]) => !data.models[id])
          .map(([task, id]) => `STYLES_FILE: style "${style.id}" uses ${task} model "${id}", which is not in the model catalog`),
      );
    if (problems.length > 0) throw new ConfigError(problems);
  }
  return {
    data,
    get: (id) => data.models[id],
    modelsFor: (task, preferred) => [...new Set([...(preferred ? [preferred] : []), ...data.tasks[task]])],
    costOf(model, predictSeconds, images) {
      const p = model.price;
      if ('perRun' in p) return p.perRun;
      if ('perImage' in p) return p.perImage * images;
      if ('perSecond' in p) return p.perSecond * predictSeconds;
      return (data.hardware[p.hardware] ?? 0) * predictSeconds;
    },
  };
}

/** An image handed to a model: the backend turns it into an uploaded file or a data URI. */
export class ImageInput {
  constructor(
    readonly bytes: Buffer,
    readonly contentType = 'image/jpeg',
  ) {}
}

export type TemplateValue = string | number | boolean | ImageInput | ImageInput[] | undefined;

const EXACT = /^\{\{([a-z_]+)\}\}$/;
const EMBEDDED = /\{\{([a-z_]+)\}\}/g;

/** Fills an input template with a task's values (see the module comment). */
export function buildInput(template: Record<string, unknown>, values: Record<string, TemplateValue>): Record<string, unknown> {
  const fill = (node: unknown): unknown => {
    if (typeof node === 'string') {
      const exact = EXACT.exec(node);
      if (exact) return values[exact[1]!];
      return node.replace(EMBEDDED, (_, name: string) => {
        const v = values[name];
        return v === undefined || typeof v === 'object' ? '' : String(v);
      });
    }
    if (Array.isArray(node)) return node.map(fill).filter((v) => v !== undefined);
    if (node && typeof node === 'object') {
      if ('$scale' in node) {
        const { $scale, to } = node as { $scale: string; to: [number, number] };
        const v = values[$scale];
        if (typeof v !== 'number') return undefined;
        return Math.round((to[0] + (to[1] - to[0]) * Math.min(1, Math.max(0, v))) * 1000) / 1000;
      }
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) {
        const filled = fill(value);
        if (filled !== undefined) out[key] = filled;
      }
      return out;
    }
    return node;
  };
  return fill(template) as Record<string, unknown>;
}

/** Problems of a template: malformed `$scale` nodes and placeholder names that are not plain words. */
function templateProblems(node: unknown, path: Array<string | number> = []): Array<{ path: Array<string | number>; message: string }> {
  if (typeof node === 'string') {
    return [...node.matchAll(/\{\{([^}]*)\}\}/g)].filter((m) => !placeholderName.test(m[1]!)).map((m) => ({ path, message: `bad placeholder "${m[0]}"` }));
  }
  if (Array.isArray(node)) return node.flatMap((v, i) => templateProblems(v, [...path, i]));
  if (node && typeof node === 'object') {
    if ('$scale' in node) {
      const ok = z.object({ $scale: z.string().regex(placeholderName), to: z.tuple([z.number(), z.number()]) }).strict().safeParse(node).success;
      return ok ? [] : [{ path, message: 'expected { "$scale": "name", "to": [lo, hi] }' }];
    }
    return Object.entries(node).flatMap(([k, v]) => templateProblems(v, [...path, k]));
  }
  return [];
}

/** Replaces every ImageInput in a built input with what `convert` makes of it (a URL or data URI). */
export async function resolveImages(input: Record<string, unknown>, convert: (image: ImageInput) => Promise<string>): Promise<Record<string, unknown>> {
  const walk = async (node: unknown): Promise<unknown> => {
    if (node instanceof ImageInput) return convert(node);
    if (Array.isArray(node)) return Promise.all(node.map(walk));
    if (node && typeof node === 'object') {
      const entries = await Promise.all(Object.entries(node).map(async ([k, v]) => [k, await walk(v)] as const));
      return Object.fromEntries(entries);
    }
    return node;
  };
  return (await walk(input)) as Record<string, unknown>;
}

/** The file references (URLs and data URIs) in a model's output, in order, under `path` when given. */
export function outputFiles(output: unknown, path?: string): string[] {
  let node = output;
  for (const key of path ? path.split('.') : []) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  const found: string[] = [];
  const walk = (n: unknown): void => {
    if (typeof n === 'string') {
      if (/^(https?:\/\/|data:)/i.test(n)) found.push(n);
    } else if (Array.isArray(n)) n.forEach(walk);
    else if (n && typeof n === 'object') Object.values(n).forEach(walk);
  };
  walk(node);
  return found;
}

/** A data URI as a Buffer (base64 or percent-encoded). */
export function decodeDataUri(uri: string): Buffer {
  const comma = uri.indexOf(',');
  if (!uri.startsWith('data:') || comma < 0) throw new Error('not a data URI');
  const meta = uri.slice(5, comma);
  const data = uri.slice(comma + 1);
  return meta.endsWith(';base64') ? Buffer.from(data, 'base64') : Buffer.from(decodeURIComponent(data), 'latin1');
}

/** An image as a data URI (what Cog takes by default, and Replicate below its size limit). */
export const toDataUri = (image: ImageInput): string => `data:${image.contentType};base64,${image.bytes.toString('base64')}`;
