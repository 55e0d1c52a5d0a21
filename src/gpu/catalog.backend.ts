import { AppError, isAppError } from '../errors.js';
import { resizeToLongEdge } from '../images/index.js';
import type { Logger } from '../logger.js';
import type { GpuBackend, GpuResult, GpuTask, PortraitTask, RestoreTask, UpscaleTask } from './backend.js';
import { buildInput, ImageInput, type ModelCatalog, type ModelTask, type TemplateValue } from './models.js';
import { ModelUnavailableError, sniffImageType, type PredictionOutcome, type PredictionRunner, type PredictionSession } from './prediction-runner.js';
import { renderNegativePrompt, renderPrompt } from './styles.js';

export interface CatalogBackendOptions {
  /** The backend's name, recorded on each job (`replicate`, `cog`). */
  name: string;
  catalog: ModelCatalog;
  runner: PredictionRunner;
  logger?: Logger;
}

/** Every output says what made it, beside the XMP "trainedAlgorithmicMedia" label. */
const credit = (model: string) => `Made with Likeness — AI-generated (${model})`;
const MEMORIAL_NOTE = 'AI reconstruction — not an original photograph';
const RESTORE_NOTE = 'AI restoration of an original photograph';

/** Seeds stay inside the 31-bit range every model accepts. */
const SEED_RANGE = 2 ** 31;

/**
 * A GpuBackend that runs the model catalog's models through a PredictionRunner (Replicate or Cog):
 *
 * - portrait: the style's model (or the catalog's first for the task, then the next when one is
 *   unavailable) with the subject-aware prompt; `variants` images from one batched call where the
 *   model allows, else parallel calls with seeds `seed, seed+1, …`. If one call fails the others are
 *   cancelled.
 * - restore: the restore model with the task's fidelity, then the colorize model on its output.
 * - upscale: the upscale model, then sharp to exactly `targetLongEdge`.
 *
 * Outputs come back as labelled JPEGs (provenance XMP); gpuSeconds and costUsd are summed over the
 * predictions. Rejects with the signal's reason when it aborts, after the runner has cancelled its
 * predictions; with AppError GPU_* otherwise.
 */
export function createCatalogBackend(options: CatalogBackendOptions): GpuBackend {
  const { catalog, runner } = options;

  return {
    name: options.name,
    async run(task: GpuTask, signal: AbortSignal): Promise<GpuResult> {
      signal.throwIfAborted();
      const session = runner.open();
      const usage = new Usage();
      try {
        const made = await render(task, session, usage, signal);
        return { ...made, gpuSeconds: usage.gpuSeconds, costUsd: usage.costUsd };
      } catch (error) {
        throw signal.aborted ? signal.reason : asBackendError(error);
      } finally {
        await session.close().catch((error: unknown) => options.logger?.warn({ err: error }, 'could not clean up after predictions'));
      }
    },
  };

  async function render(task: GpuTask, session: PredictionSession, usage: Usage, signal: AbortSignal): Promise<Pick<GpuResult, 'images' | 'model' | 'credit' | 'note'>> {
    switch (task.kind) {
      case 'portrait':
        return withFallback('portrait', task.style.models.portrait, (id) => portrait(id, task, session, usage, signal));
      case 'restore':
        return restore(task, session, usage, signal);
      case 'upscale':
        return upscale(task, session, usage, signal);
    }
  }

  /** Runs `attempt` with the task's models in order, moving on only when a model is unavailable. */
  async function withFallback<T>(task: ModelTask, preferred: string | undefined, attempt: (modelId: string) => Promise<T>): Promise<T> {
    const candidates = catalog.modelsFor(task, preferred).filter((id) => runner.serves(id));
    if (candidates.length === 0) {
      throw new AppError('GPU_UNAVAILABLE', `no model for ${task} can run on ${runner.name}`, { retryable: false });
    }
    for (const [i, id] of candidates.entries()) {
      try {
        return await attempt(id);
      } catch (error) {
        if (!(error instanceof ModelUnavailableError) || i === candidates.length - 1) throw error;
        options.logger?.warn({ err: error, model: id, next: candidates[i + 1] }, 'model unavailable; trying the next one');
      }
    }
    throw new Error('unreachable');
  }

  async function predictOne(session: PredictionSession, usage: Usage, modelId: string, values: Record<string, TemplateValue>, signal: AbortSignal): Promise<Buffer> {
    const model = catalog.get(modelId)!;
    const outcome = await session.predict(modelId, model, buildInput(model.input, values), signal);
    usage.add(outcome);
    const first = outcome.files[0];
    if (!first) throw new AppError('GPU_FAILED', `${modelId} returned no image`, { retryable: true });
    return first;
  }

  async function portrait(modelId: string, task: PortraitTask, session: PredictionSession, usage: Usage, signal: AbortSignal) {
    const model = catalog.get(modelId)!;
    const photos = task.photos.slice(0, model.maxPhotos).map((bytes) => new ImageInput(bytes, sniffImageType(bytes)));
    const values: Record<string, TemplateValue> = {
      prompt: renderPrompt(task.style, task.subject, task.prompt, task.identityStrength),
      negative_prompt: renderNegativePrompt(task.style, task.subject),
      photos,
      photo: photos[0],
      identity_strength: task.identityStrength,
    };
    const calls = planCalls(task.variants, task.seed, model.batch?.max ?? 1);
    const outcomes = await allOrCancel(
      signal,
      calls.map((call) => async (callSignal: AbortSignal) => {
        const input = buildInput(model.input, { ...values, seed: call.seed, variants: call.count });
        if (model.batch) input[model.batch.field] = call.count;
        return session.predict(modelId, model, input, callSignal);
      }),
    );
    for (const outcome of outcomes) usage.add(outcome);
    const files = outcomes.flatMap((o) => o.files);
    if (files.length < task.variants) {
      throw new AppError('GPU_FAILED', `${modelId} returned ${files.length} of ${task.variants} images`, { retryable: true });
    }
    return { images: files.slice(0, task.variants), model: modelId, credit: credit(modelId), ...(task.subject === 'memorial' ? { note: MEMORIAL_NOTE } : {}) };
  }

  async function restore(task: RestoreTask, session: PredictionSession, usage: Usage, signal: AbortSignal) {
    const used: string[] = [];
    let image = await withFallback('restore', undefined, async (id) => {
      const out = await predictOne(session, usage, id, { image: new ImageInput(task.photo, sniffImageType(task.photo)), fidelity: task.fidelity }, signal);
      used.push(id);
      return out;
    });
    if (task.colorize) {
      const restored = image;
      image = await withFallback('colorize', undefined, async (id) => {
        const out = await predictOne(session, usage, id, { image: new ImageInput(restored, sniffImageType(restored)) }, signal);
        used.push(id);
        return out;
      });
    }
    const model = used.join('+');
    return { images: [image], model, credit: credit(model), note: RESTORE_NOTE };
  }

  async function upscale(task: UpscaleTask, session: PredictionSession, usage: Usage, signal: AbortSignal) {
    let modelId = '';
    const enlarged = await withFallback('upscale', undefined, async (id) => {
      const out = await predictOne(session, usage, id, { image: new ImageInput(task.image, sniffImageType(task.image)), target_long_edge: task.targetLongEdge }, signal);
      modelId = id;
      return out;
    });
    // The model enlarges by a fixed factor; the exact 8K long edge is sharp's job.
    const exact = await resizeToLongEdge(enlarged, task.targetLongEdge);
    return { images: [exact], model: modelId, credit: credit(modelId) };
  }
}

/** GPU seconds and cost, summed over a call's predictions. */
class Usage {
  gpuSeconds = 0;
  costUsd = 0;
  add(outcome: PredictionOutcome): void {
    this.gpuSeconds = Math.round((this.gpuSeconds + outcome.predictSeconds) * 1000) / 1000;
    this.costUsd += outcome.costUsd;
  }
}

/** The calls that make `variants` images, `perCall` at most each, with consecutive seeds. */
export function planCalls(variants: number, seed: number, perCall: number): Array<{ seed: number; count: number }> {
  const calls: Array<{ seed: number; count: number }> = [];
  for (let made = 0; made < variants; made += perCall) {
    calls.push({ seed: (((seed + made) % SEED_RANGE) + SEED_RANGE) % SEED_RANGE, count: Math.min(perCall, variants - made) });
  }
  return calls;
}

/** Runs every task at once; the first failure cancels the rest, and is what the whole rejects with. */
async function allOrCancel<T>(signal: AbortSignal, tasks: Array<(signal: AbortSignal) => Promise<T>>): Promise<T[]> {
  const group = new AbortController();
  const combined = AbortSignal.any([signal, group.signal]);
  let failure: { error: unknown } | undefined;
  const settled = await Promise.allSettled(
    tasks.map((task) =>
      task(combined).catch((error: unknown) => {
        if (!failure) {
          failure = { error };
          group.abort(error);
        }
        throw error;
      }),
    ),
  );
  if (failure) throw failure.error;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

/** Keeps GPU_* errors; an unreadable model output is a failure a new run may not repeat. */
function asBackendError(error: unknown): AppError {
  if (isAppError(error) && error.code.startsWith('GPU_')) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new AppError('GPU_FAILED', `could not use the model's output: ${message}`, { retryable: true, cause: error });
}
