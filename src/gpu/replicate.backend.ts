import Replicate, { type FileObject, type Prediction } from 'replicate';
import { AppError, isAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { GpuBackend } from './backend.js';
import { createCatalogBackend } from './catalog.backend.js';
import { realClock, type Clock } from './clock.js';
import { createRetryingFetch, isRetryableStatus, type FetchLike, type RetryPolicy } from './http-retry.js';
import { decodeDataUri, outputFiles, resolveImages, toDataUri, type ImageInput, type ModelCatalog, type ModelSpec } from './models.js';
import { failedPredictionError, ModelUnavailableError, readBody, type PredictionOutcome, type PredictionRunner, type PredictionSession } from './prediction-runner.js';

export interface ReplicateBackendOptions {
  token: string;
  /** The API root, `https://api.replicate.com/v1` (a fake's in tests). */
  baseUrl: string;
  catalog: ModelCatalog;
  /** How often a running prediction is polled. */
  pollIntervalMs: number;
  retry: RetryPolicy;
  /**
   * How input images travel: uploaded once per job through the files API (default; deleted when
   * the job's predictions are done), or inline as data URIs. Never as a URL that carries a token.
   */
  fileInputs?: 'upload' | 'data-uri';
  clock?: Clock;
  fetch?: FetchLike;
  logger?: Logger;
}

const TERMINAL = new Set<Prediction['status']>(['succeeded', 'failed', 'canceled', 'aborted']);

/**
 * GPU backend on Replicate, through the official `replicate` client: each prediction is created,
 * then polled until it ends (never `replicate.run()`, whose synchronous wait resolves to null when
 * it expires). Inputs are uploaded as files (or sent as data URIs); outputs are downloaded as soon as
 * the prediction succeeds, because Replicate deletes them after about an hour. An aborted signal
 * cancels the prediction. HTTP 429 and 5xx are retried with back-off honouring Retry-After; 400/422
 * are refused input (no retry); 403/404 on a model moves on to the task's next model. GPU seconds
 * come from `metrics.predict_time`, cost from the catalog's price.
 */
export function createReplicateBackend(options: ReplicateBackendOptions): GpuBackend {
  return createCatalogBackend({ name: 'replicate', catalog: options.catalog, runner: createReplicateRunner(options), logger: options.logger });
}

export function createReplicateRunner(options: ReplicateBackendOptions): PredictionRunner {
  const clock = options.clock ?? realClock;
  const logger = options.logger;
  const http = createRetryingFetch(options.retry, {
    fetch: options.fetch,
    clock,
    onRetry: (n) => logger?.warn({ url: n.url, attempt: n.attempt, delayMs: n.delayMs, status: n.status, err: n.error }, 'replicate request failed; retrying'),
  });
  const client = new Replicate({ auth: options.token, baseUrl: options.baseUrl, fetch: http, userAgent: 'likeness/0.1' });
  // Output files live on a delivery host: fetched without our Authorization header.
  const download = async (ref: string, signal: AbortSignal): Promise<Buffer> => {
    if (ref.startsWith('data:')) return decodeDataUri(ref);
    let response: Response;
    try {
      response = await http(ref, { signal });
    } catch (error) {
      throw signal.aborted ? signal.reason : new AppError('GPU_UNAVAILABLE', `could not fetch an output: ${messageOf(error)}`, { retryable: true });
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      // Gone already (expired or deleted): running the job again makes new ones.
      throw new AppError('GPU_UNAVAILABLE', `output fetch answered ${response.status}`, { retryable: true });
    }
    return readBody(response);
  };

  return {
    name: 'replicate',
    serves: () => true,
    open(): PredictionSession {
      const uploads = new Map<Buffer, Promise<string>>();
      const uploaded: string[] = [];

      /** One upload per distinct image per job, shared by its predictions; data URIs where there is no files API. */
      const upload = (image: ImageInput, signal: AbortSignal): Promise<string> => {
        if (options.fileInputs === 'data-uri') return Promise.resolve(toDataUri(image));
        let ref = uploads.get(image.bytes);
        if (!ref) {
          const name = `input-${uploads.size}.${image.contentType.split('/')[1] ?? 'bin'}`;
          ref = client.files.create(new File([new Uint8Array(image.bytes)], name, { type: image.contentType }), { source: 'likeness' }, { signal }).then(
            (file: FileObject) => {
              uploaded.push(file.id);
              return file.urls.get;
            },
            (error: unknown) => {
              // A Replicate-compatible API without the files endpoint still takes data URIs.
              if (isApiError(error) && [404, 405, 501].includes(error.response.status)) return toDataUri(image);
              throw error;
            },
          );
          uploads.set(image.bytes, ref);
        }
        return ref;
      };

      return {
        async predict(modelId: string, model: ModelSpec, input: Record<string, unknown>, signal: AbortSignal): Promise<PredictionOutcome> {
          let prepared: Record<string, unknown>;
          try {
            prepared = await resolveImages(input, (image) => upload(image, signal));
          } catch (error) {
            throw signal.aborted ? signal.reason : replicateError(error, modelId, 'upload');
          }
          let prediction: Prediction;
          try {
            prediction = await client.predictions.create({ ...(model.version ? { version: model.version } : { model: modelId }), input: prepared, signal });
          } catch (error) {
            throw signal.aborted ? signal.reason : replicateError(error, modelId, 'create');
          }
          const log = logger?.child({ prediction: prediction.id, model: modelId });
          log?.debug('prediction created');
          try {
            // Aborted while the create was in flight: the prediction exists, so it is cancelled below.
            signal.throwIfAborted();
            while (!TERMINAL.has(prediction.status)) {
              await clock.sleep(options.pollIntervalMs, signal);
              prediction = await client.predictions.get(prediction.id, { signal });
            }
          } catch (error) {
            if (!signal.aborted) throw replicateError(error, modelId, 'poll');
            await cancel(prediction.id, log);
            throw signal.reason;
          }
          if (prediction.status !== 'succeeded') {
            if (prediction.status === 'failed') throw failedPredictionError(modelId, prediction.error);
            throw new AppError('GPU_UNAVAILABLE', `${modelId} prediction ${prediction.id} was ${prediction.status} by the service`, { retryable: true });
          }
          const refs = outputFiles(prediction.output, model.outputPath);
          const files = await Promise.all(refs.map((ref) => download(ref, signal)));
          const predictSeconds = predictSecondsOf(prediction);
          log?.debug({ predictSeconds, outputs: files.length }, 'prediction succeeded');
          return { files, predictSeconds, costUsd: options.catalog.costOf(model, predictSeconds, files.length) };
        },
        async close() {
          // The photos are people's faces: they do not stay on Replicate longer than the job needs them.
          await Promise.allSettled(uploads.values());
          await Promise.all(
            uploaded.map((id) =>
              client.files.delete(id, { signal: AbortSignal.timeout(options.retry.timeoutMs) }).catch((error: unknown) => {
                logger?.warn({ err: sanitized(error), file: id }, 'could not delete an uploaded input file');
              }),
            ),
          );
        },
      };
    },
  };

  /** Best effort: the job is over either way; the cancel has its own time limit. */
  async function cancel(id: string, log: Logger | undefined): Promise<void> {
    try {
      await client.predictions.cancel(id, { signal: AbortSignal.timeout(options.retry.timeoutMs) });
      log?.info('prediction cancelled');
    } catch (error) {
      log?.warn({ err: sanitized(error) }, 'could not cancel the prediction');
    }
  }
}

/** GPU seconds of a finished prediction: `metrics.predict_time`, else the time between start and end. */
function predictSecondsOf(prediction: Prediction): number {
  const reported = prediction.metrics?.predict_time;
  if (typeof reported === 'number' && Number.isFinite(reported)) return reported;
  if (prediction.started_at && prediction.completed_at) return Math.max(0, (Date.parse(prediction.completed_at) - Date.parse(prediction.started_at)) / 1000);
  return 0;
}

interface ApiErrorLike extends Error {
  response: Response;
}
const isApiError = (error: unknown): error is ApiErrorLike => error instanceof Error && error.name === 'ApiError' && 'response' in error;

/** The `detail` (or `title`) of an API error's problem+json body, which the client put in its message. */
function apiDetail(error: ApiErrorLike): string {
  const body = error.message.replace(/^Request to \S+ failed with status \d+[^:]*: /s, '').replace(/\.$/, '');
  try {
    const parsed = JSON.parse(body) as { detail?: unknown; title?: unknown };
    const detail = parsed.detail ?? parsed.title;
    if (detail !== undefined) return (typeof detail === 'string' ? detail : JSON.stringify(detail)).trim().slice(0, 500);
  } catch {
    // not JSON: use the text
  }
  return body.slice(0, 500);
}

/** Maps what the client threw to the port's errors; `step` says which call it was. */
function replicateError(error: unknown, modelId: string, step: 'upload' | 'create' | 'poll'): AppError {
  if (isAppError(error)) return error;
  if (!isApiError(error)) return new AppError('GPU_UNAVAILABLE', `Replicate unreachable: ${messageOf(error)}`, { retryable: true });
  const status = error.response.status;
  const detail = apiDetail(error);
  const message = `Replicate answered ${status} to ${step} for ${modelId}: ${detail}`;
  if (step === 'create' && (status === 403 || status === 404)) return new ModelUnavailableError(modelId, message);
  if (status === 400 || status === 413 || status === 422) return new AppError('GPU_REJECTED_INPUT', message, { retryable: false });
  if (status === 401 || status === 402 || status === 403) return new AppError('GPU_UNAVAILABLE', message, { retryable: false });
  if (isRetryableStatus(status)) return new AppError('GPU_UNAVAILABLE', message, { retryable: true });
  return new AppError('GPU_FAILED', message, { retryable: false });
}

const messageOf = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/** The client's errors hold the Request (with its Authorization header): log only their message. */
const sanitized = (error: unknown): unknown => (isApiError(error) ? { type: error.name, message: error.message, status: error.response.status } : error);
