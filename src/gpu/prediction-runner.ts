import { AppError } from '../errors.js';
import type { ModelSpec } from './models.js';

/** What one finished prediction gave: its output files' bytes, in order, and what it cost. */
export interface PredictionOutcome {
  files: Buffer[];
  /** GPU seconds the service reports (`metrics.predict_time`), or the wall time where it reports none. */
  predictSeconds: number;
  costUsd: number;
}

/** The predictions of one backend call; `close` releases what they shared (uploaded input files). */
export interface PredictionSession {
  /**
   * Runs `model` on `input` (an input built from the catalog; images are ImageInput) and resolves
   * once its outputs are copied into memory. Cancels the remote prediction and rejects with the
   * signal's reason when `signal` aborts. Rejects with AppError GPU_* otherwise.
   */
  predict(modelId: string, model: ModelSpec, input: Record<string, unknown>, signal: AbortSignal): Promise<PredictionOutcome>;
  close(): Promise<void>;
}

/** Where a prediction runs: Replicate's API or self-hosted Cog containers. */
export interface PredictionRunner {
  readonly name: string;
  /** Whether this runner can run that catalog model at all (a Cog deployment runs only the models it has). */
  serves(modelId: string): boolean;
  open(): PredictionSession;
}

/**
 * This model cannot be run here (unknown to the service, not allowed, no endpoint serves it):
 * the next model of the task's list is tried.
 */
export class ModelUnavailableError extends AppError {
  constructor(
    readonly modelId: string,
    message: string,
    options: { retryable?: boolean; cause?: unknown } = {},
  ) {
    super('GPU_UNAVAILABLE', message, { retryable: options.retryable ?? false, cause: options.cause, details: { model: modelId } });
    this.name = 'ModelUnavailableError';
  }
}

/**
 * What a prediction that ended `failed` means for the job: refused content or input (no retry),
 * a passing trouble on the service's side (retry), or a failure of the model (no retry).
 */
export function failedPredictionError(modelId: string, error: unknown): AppError {
  const text = (typeof error === 'string' ? error : JSON.stringify(error ?? 'unknown error')).slice(0, 500);
  const message = `${modelId} failed: ${text}`;
  if (/nsfw|sensitive|safety|flagged|E005|no face|could not detect|cannot identify image|unsupported image|invalid image/i.test(text)) {
    return new AppError('GPU_REJECTED_INPUT', message, { retryable: false });
  }
  if (/out of memory|cuda error|timed? ?out|temporar|unavailable|overloaded|capacity|connection reset|try again|interrupted|preempt/i.test(text)) {
    return new AppError('GPU_UNAVAILABLE', message, { retryable: true });
  }
  return new AppError('GPU_FAILED', message, { retryable: false });
}

/** The image type of some bytes, from their first bytes. */
export function sniffImageType(bytes: Buffer): string {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  if (bytes.length >= 12 && bytes.toString('latin1', 4, 8) === 'ftyp') return 'image/avif';
  return 'application/octet-stream';
}

/** Largest output file a model may hand back (an 8K PNG is ~100 MB; more is a mistake or an attack). */
export const MAX_OUTPUT_BYTES = 200 * 1024 * 1024;

/** Reads a response body, refusing more than `max` bytes. */
export async function readBody(response: Response, max = MAX_OUTPUT_BYTES): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > max) throw new AppError('GPU_FAILED', `output of ${declared} bytes is over the ${max}-byte limit`);
  const parts: Buffer[] = [];
  let total = 0;
  if (!response.body) return Buffer.alloc(0);
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > max) throw new AppError('GPU_FAILED', `output is over the ${max}-byte limit`);
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts, total);
}
