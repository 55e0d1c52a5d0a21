import type { GpuResult, PortraitTask, RestoreTask } from '../gpu/backend.js';
import { embedFaceAt, embedLargestFace, likenessScore, type FaceSquare } from '../images/index.js';

/**
 * The likeness gate: every portrait variant is measured against the person's own face before the
 * user sees the set, and weak ones are made again with stronger identity settings; a restored
 * photo is measured against its original and made again at higher fidelity when the face drifted.
 * Scores come from likeness-score.ts (0–100, best match over the references, 0 without a face).
 */

/** LIKENESS_MIN and LIKENESS_RETRIES. */
export interface LikenessSettings {
  /** Variants scoring under this (0–100) are weak; 0 turns the gate off. */
  min: number;
  /** At most this many regeneration runs per job. */
  retries: number;
}

/**
 * The embedding of an image's face, or undefined when it shows none: the face in `known` when the
 * backend said where it put it, else the largest face found.
 */
export type Embedder = (image: Buffer, known?: FaceSquare) => Promise<Float32Array | undefined>;

/**
 * The process's face embedder: a decode here, then FaceRes (and BlazeFace, unless the backend said
 * where the face is) in a face-model thread. A known square that lies mostly outside the image is
 * ignored and the face searched for.
 */
export const embedFace: Embedder = async (image, known) => (known && (await embedFaceAt(image, known))) ?? (await embedLargestFace(image))?.vector;

/** GPU time and money, as a backend reports them. */
export interface ExtraUsage {
  gpuSeconds: number;
  costUsd: number;
}

/** The fidelity a drifted restoration is made again at: as close to the original as the model goes. */
export const RESTORE_RETRY_FIDELITY = 1;

/**
 * Whether the gate measures a job's images: portraits and restorations, with LIKENESS_MIN above 0,
 * unless the backend says its images are placeholders. The `instant` backend's are (tiny images
 * that show no one, made to time the plumbing around the GPU); measuring them would score 0 and
 * regenerate and refund every job of the tests and benchmarks that use it. The mark travels on the
 * result, so a test's wrapper around the instant backend keeps it.
 */
export function gateApplies(settings: LikenessSettings | undefined, kind: string, result: Pick<GpuResult, 'placeholders'>): settings is LikenessSettings {
  return !!settings && settings.min > 0 && (kind === 'portrait' || kind === 'restore') && result.placeholders !== true;
}

/** Indices of the scores under `min`. */
export function weakVariants(scores: readonly number[], min: number): number[] {
  return scores.flatMap((score, i) => (score < min ? [i] : []));
}

/**
 * Which regenerated candidate replaces which weak slot: the best candidates go to the weakest slots,
 * and a candidate only replaces a slot it beats. Returns [slot, candidate] pairs.
 */
export function assignReplacements(scores: readonly number[], weak: readonly number[], candidates: readonly number[]): Array<[number, number]> {
  const slots = [...weak].sort((a, b) => scores[a]! - scores[b]! || a - b);
  const best = candidates.map((score, i) => [score, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const pairs: Array<[number, number]> = [];
  for (const slot of slots) {
    const next = best[pairs.length];
    if (!next || next[0] <= scores[slot]!) break;
    pairs.push([slot, next[1]]);
  }
  return pairs;
}

/** Credits given back for `weak` of `variants` variants of a job that cost `price`: the weak share, rounded. */
export function likenessRefund(price: number, weak: number, variants: number): number {
  if (variants <= 0 || weak <= 0 || price <= 0) return 0;
  return Math.min(price, Math.round((price * Math.min(weak, variants)) / variants));
}

/** A new seed for regeneration `attempt` (1, 2, …): same job, different pictures. */
export const retrySeed = (seed: number, attempt: number): number => (seed + Math.imul(attempt, 0x9e3779b1)) >>> 1;

/**
 * Scores each image against the references, using the backend's face squares where it gave them
 * (embeddings are computed concurrently, one per face-model thread).
 */
export async function scoreImages(images: readonly Buffer[], references: readonly Float32Array[], embed: Embedder, known: GpuResult['faces'] = []): Promise<number[]> {
  const faces = await Promise.all(images.map((image, i) => embed(image, known[i])));
  return faces.map((face) => likenessScore(face, references));
}

export interface PortraitGateInput {
  task: PortraitTask;
  first: GpuResult;
  /** Embeddings of the reference photos' largest faces (at least one). */
  references: readonly Float32Array[];
  settings: LikenessSettings;
  /** How much closer to the references the next run holds (the style's identity step, capped at 1). */
  stronger: (identityStrength: number) => number;
  /** Runs the backend; aborting the job rejects it. */
  regenerate: (task: PortraitTask) => Promise<GpuResult>;
  embed: Embedder;
  /** Told when a regeneration run fails for a reason other than the job being aborted; the gate stops there. */
  onRetryFailed?: (error: unknown, attempt: number) => void;
  signal?: AbortSignal;
}

export interface PortraitGateResult {
  images: Buffer[];
  scores: number[];
  /** Regeneration runs made (each for the weak variants only). */
  retries: number;
  /** Their GPU time and cost: recorded on the job, never charged. */
  extra: ExtraUsage;
  /** Variants still under LIKENESS_MIN after the retries: delivered with a note, their credits refunded. */
  weak: number[];
  /** Variants whose image is a regenerated one. */
  replaced: number[];
}

/**
 * Measures a portrait set and regenerates its weak variants, at most `settings.retries` times,
 * each time only as many variants as are weak, with a new seed and a stronger identity strength.
 * A regenerated image replaces a weak one only when it scores higher. A failed regeneration ends
 * the retries (the set is delivered as it is); an aborted job rejects.
 */
export async function gatePortrait(input: PortraitGateInput): Promise<PortraitGateResult> {
  const { task, settings, references, embed } = input;
  const images = [...input.first.images];
  const scores = await scoreImages(images, references, embed, input.first.faces);
  const extra: ExtraUsage = { gpuSeconds: 0, costUsd: 0 };
  const replaced = new Set<number>();
  let weak = weakVariants(scores, settings.min);
  let identityStrength = task.identityStrength;
  let retries = 0;
  while (weak.length > 0 && retries < settings.retries) {
    const attempt = retries + 1;
    identityStrength = input.stronger(identityStrength);
    let again: GpuResult;
    try {
      again = await input.regenerate({ ...task, variants: weak.length, seed: retrySeed(task.seed, attempt), identityStrength });
    } catch (error) {
      if (input.signal?.aborted) throw error;
      input.onRetryFailed?.(error, attempt);
      break;
    }
    retries = attempt;
    extra.gpuSeconds += again.gpuSeconds;
    extra.costUsd += again.costUsd;
    const candidates = await scoreImages(again.images, references, embed, again.faces);
    for (const [slot, candidate] of assignReplacements(scores, weak, candidates)) {
      images[slot] = again.images[candidate]!;
      scores[slot] = candidates[candidate]!;
      replaced.add(slot);
    }
    weak = weakVariants(scores, settings.min);
  }
  return { images, scores, retries, extra, weak, replaced: [...replaced].sort((a, b) => a - b) };
}

export interface RestoreGuardInput {
  task: RestoreTask;
  first: GpuResult;
  /** The original's largest face; undefined when it shows none (then nothing is measured). */
  reference: Float32Array | undefined;
  settings: LikenessSettings;
  regenerate: (task: RestoreTask) => Promise<GpuResult>;
  embed: Embedder;
  onRetryFailed?: (error: unknown) => void;
  signal?: AbortSignal;
}

export interface RestoreGuardResult {
  image: Buffer;
  /** Likeness of the restored face to the original's; undefined when the original shows no face. */
  score: number | undefined;
  retries: number;
  extra: ExtraUsage;
  /** Still under LIKENESS_MIN after the retry: the face may have drifted. */
  drifted: boolean;
}

/**
 * The restoration guard: the restored photo's face against the original's. Under LIKENESS_MIN the
 * photo is restored once more at {@link RESTORE_RETRY_FIDELITY} (unless it already was), and the
 * better of the two is kept. Old photos without a face are not measured.
 */
export async function guardRestore(input: RestoreGuardInput): Promise<RestoreGuardResult> {
  const { task, settings, reference } = input;
  const extra: ExtraUsage = { gpuSeconds: 0, costUsd: 0 };
  let image = input.first.images[0]!;
  if (!reference) return { image, score: undefined, retries: 0, extra, drifted: false };
  let [score] = await scoreImages([image], [reference], input.embed);
  let retries = 0;
  if (score! < settings.min && settings.retries > 0 && task.fidelity < RESTORE_RETRY_FIDELITY) {
    try {
      const again = await input.regenerate({ ...task, fidelity: RESTORE_RETRY_FIDELITY });
      retries = 1;
      extra.gpuSeconds += again.gpuSeconds;
      extra.costUsd += again.costUsd;
      const [candidate] = await scoreImages(again.images.slice(0, 1), [reference], input.embed);
      if (candidate! > score!) [image, score] = [again.images[0]!, candidate];
    } catch (error) {
      if (input.signal?.aborted) throw error;
      input.onRetryFailed?.(error);
    }
  }
  return { image, score, retries, extra, drifted: score! < settings.min };
}

/**
 * Reference embeddings by artifact key, remembered in this process for `ttlMs` (a re-roll of the
 * same photos measures them once) and at most `max` of them. Face embeddings are biometric data:
 * they are never written anywhere, and they leave memory within the hour.
 */
export function createReferenceCache(embed: Embedder, options: { max?: number; ttlMs?: number; now?: () => number } = {}) {
  const max = options.max ?? 256;
  const ttlMs = options.ttlMs ?? 60 * 60 * 1000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { at: number; face: Promise<Float32Array | undefined> }>();

  function lookup(key: string, photo: Buffer): Promise<Float32Array | undefined> {
    const hit = entries.get(key);
    if (hit && now() - hit.at < ttlMs) {
      // Map order is insertion order: re-inserting makes this the most recently used.
      entries.delete(key);
      entries.set(key, hit);
      return hit.face;
    }
    const face = embed(photo);
    entries.set(key, { at: now(), face });
    // A failure is not remembered: the next job tries again.
    face.catch(() => entries.get(key)?.face === face && entries.delete(key));
    while (entries.size > max) entries.delete(entries.keys().next().value!);
    return face;
  }

  return {
    /** The faces of the photos stored under `keys` (same order; undefined where none is found). */
    faces(keys: readonly string[], photos: readonly Buffer[]): Promise<Array<Float32Array | undefined>> {
      return Promise.all(photos.map((photo, i) => (keys[i] === undefined ? embed(photo) : lookup(keys[i], photo))));
    },
    get size() {
      return entries.size;
    },
  };
}
export type ReferenceCache = ReturnType<typeof createReferenceCache>;
