import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { GpuBackend } from './backend.js';
import { createCatalogBackend } from './catalog.backend.js';
import { realClock, type Clock } from './clock.js';
import { CogPool, type CogHealth, type LeaseVerdict } from './cog-pool.js';
import { createRetryingFetch, type RetryPolicy } from './http-retry.js';
import { decodeDataUri, outputFiles, resolveImages, toDataUri, type ModelCatalog, type ModelSpec } from './models.js';
import { failedPredictionError, MAX_OUTPUT_BYTES, readBody, type PredictionOutcome, type PredictionRunner, type PredictionSession } from './prediction-runner.js';

export interface CogBackendOptions {
  /** The containers; `model` tags one with the catalog model it runs (untagged: it runs whatever it is sent). */
  endpoints: ReadonlyArray<{ url: string; model?: string }>;
  catalog: ModelCatalog;
  /** USD per GPU-hour of your machines: the cost recorded per job. */
  pricePerGpuHour: number;
  /** How long a dead endpoint is skipped before it is health-checked again. */
  retryDeadMs: number;
  /** `retries`: other endpoints tried after a network error, 5xx or 409; `timeoutMs`: health checks and cancels. */
  retry: RetryPolicy;
  clock?: Clock;
  /** The pool's time source, in ms (default: performance.now); tests move it on instead of waiting. */
  poolNow?: () => number;
  logger?: Logger;
}

/**
 * GPU backend on self-hosted Cog containers (`cog serve` / the images Cog builds), running the same
 * open models as the catalog. Each prediction is `PUT /predictions/<id>` (synchronous, idempotent)
 * with `{ input }`, images inline as data URIs; file outputs come back as data URIs (or URLs, which
 * are fetched at once). Endpoints run one prediction at a time (see {@link CogPool}); a 409, a 5xx
 * or an unreachable endpoint sends the prediction to another one. An aborted signal drops the
 * request and asks the container to cancel. Cost is `predict_time` at the configured GPU-hour price.
 */
export function createCogBackend(options: CogBackendOptions): GpuBackend & { pool: CogPool } {
  const runner = createCogRunner(options);
  return Object.assign(createCatalogBackend({ name: 'cog', catalog: options.catalog, runner, logger: options.logger }), { pool: runner.pool });
}

interface JsonResponse {
  status: number;
  body: unknown;
}

export function createCogRunner(options: CogBackendOptions): PredictionRunner & { pool: CogPool } {
  const clock = options.clock ?? realClock;
  const logger = options.logger;
  // A fresh connection per request: a reused keep-alive socket that the container has just closed
  // would fail the request and get a healthy endpoint marked dead. A connect costs far less than a prediction.
  const agents = { http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) };
  const fetchOutput = createRetryingFetch(options.retry, { clock });

  /** One JSON request with node:http: no client-side limit on how long a synchronous prediction may take. */
  const request = (url: string, init: { method: string; body?: unknown; signal: AbortSignal }): Promise<JsonResponse> =>
    new Promise((resolve, reject) => {
      const target = new URL(url);
      const payload = init.body === undefined ? undefined : Buffer.from(JSON.stringify(init.body));
      const lib = target.protocol === 'https:' ? https : http;
      const req = lib.request(
        target,
        {
          method: init.method,
          agent: target.protocol === 'https:' ? agents.https : agents.http,
          signal: init.signal,
          headers: { accept: 'application/json', ...(payload ? { 'content-type': 'application/json', 'content-length': payload.byteLength } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.byteLength;
            if (size > MAX_OUTPUT_BYTES * 1.4) req.destroy(new Error('response too large'));
            else chunks.push(chunk);
          });
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = text;
            try {
              body = text ? JSON.parse(text) : undefined;
            } catch {
              // not JSON: keep the text
            }
            resolve({ status: res.statusCode ?? 0, body });
          });
          res.on('error', reject);
        },
      );
      req.on('error', (error) => reject(init.signal.aborted ? init.signal.reason : error));
      req.end(payload);
    });

  const pool = new CogPool(options.endpoints, {
    retryDeadMs: options.retryDeadMs,
    logger,
    now: options.poolNow,
    async healthCheck(url, signal): Promise<CogHealth> {
      const res = await request(`${url}/health-check`, { method: 'GET', signal: AbortSignal.any([signal, AbortSignal.timeout(options.retry.timeoutMs)]) });
      const status = (res.body as { status?: unknown } | undefined)?.status;
      return typeof status === 'string' ? status : `HTTP ${res.status}`;
    },
  });

  const download = async (ref: string, signal: AbortSignal): Promise<Buffer> => {
    if (ref.startsWith('data:')) return decodeDataUri(ref);
    const response = await fetchOutput(ref, { signal }).catch((error: unknown) => {
      throw signal.aborted ? signal.reason : new AppError('GPU_UNAVAILABLE', `could not fetch a Cog output: ${String(error)}`, { retryable: true });
    });
    if (!response.ok) throw new AppError('GPU_UNAVAILABLE', `Cog output fetch answered ${response.status}`, { retryable: true });
    return readBody(response);
  };

  /** Best effort; Cog can cancel only some predictions, and the endpoint is health-checked before reuse anyway. */
  const cancel = (url: string, id: string) =>
    request(`${url}/predictions/${id}/cancel`, { method: 'POST', signal: AbortSignal.timeout(options.retry.timeoutMs) }).catch((error: unknown) =>
      logger?.debug({ err: error, endpoint: url, prediction: id }, 'could not cancel the Cog prediction'),
    );

  async function predict(modelId: string, model: ModelSpec, input: Record<string, unknown>, signal: AbortSignal): Promise<PredictionOutcome> {
    const body = { input: await resolveImages(input, async (image) => toDataUri(image)) };
    let lastTrouble = '';
    let pause = 0;
    for (let attempt = 0; attempt <= options.retry.retries; attempt++) {
      if (pause > 0) await clock.sleep(pause, signal);
      pause = 0;
      const lease = await pool.acquire(modelId, signal);
      const id = randomBytes(16).toString('hex');
      const started = clock.now();
      let verdict: LeaseVerdict = 'unsure';
      try {
        let res: JsonResponse;
        try {
          res = await request(`${lease.url}/predictions/${id}`, { method: 'PUT', body: { id, ...body }, signal });
        } catch (error) {
          if (signal.aborted) {
            void cancel(lease.url, id);
            throw signal.reason;
          }
          verdict = 'dead';
          lastTrouble = `${lease.url} unreachable: ${error instanceof Error ? error.message : String(error)}`;
          continue;
        }
        if (res.status === 409) {
          verdict = 'busy';
          lastTrouble = `${lease.url} is busy with another prediction`;
          continue;
        }
        if (res.status >= 500) {
          pause = options.retry.baseDelayMs * 2 ** attempt;
          lastTrouble = `${lease.url} answered ${res.status}: ${detailOf(res.body)}`;
          continue;
        }
        verdict = 'ok';
        if (res.status === 400 || res.status === 422) {
          throw new AppError('GPU_REJECTED_INPUT', `${modelId} on ${lease.url} refused the input: ${detailOf(res.body)}`, { retryable: false });
        }
        if (res.status < 200 || res.status >= 300) {
          throw new AppError('GPU_FAILED', `${modelId} on ${lease.url} answered ${res.status}: ${detailOf(res.body)}`, { retryable: false });
        }
        const prediction = (res.body ?? {}) as { status?: string; output?: unknown; error?: unknown; metrics?: { predict_time?: unknown } };
        if (prediction.status === 'failed') throw failedPredictionError(modelId, prediction.error);
        if (prediction.status !== 'succeeded') {
          throw new AppError('GPU_UNAVAILABLE', `${modelId} on ${lease.url} ended ${String(prediction.status)}`, { retryable: true });
        }
        const files = await Promise.all(outputFiles(prediction.output, model.outputPath).map((ref) => download(ref, signal)));
        const reported = prediction.metrics?.predict_time;
        const predictSeconds = typeof reported === 'number' && Number.isFinite(reported) ? reported : (clock.now() - started) / 1000;
        return { files, predictSeconds, costUsd: (predictSeconds * options.pricePerGpuHour) / 3600 };
      } finally {
        pool.release(lease, verdict);
      }
    }
    throw new AppError('GPU_UNAVAILABLE', `no Cog endpoint could run ${modelId}: ${lastTrouble}`, { retryable: true });
  }

  return {
    name: 'cog',
    pool,
    serves: (modelId) => pool.serves(modelId),
    open: (): PredictionSession => ({ predict, close: async () => undefined }),
  };
}

/** Cog's error bodies: `{ detail: … }` (pydantic's list of problems for 422) or text. */
function detailOf(body: unknown): string {
  const detail = body && typeof body === 'object' && 'detail' in body ? (body as { detail: unknown }).detail : body;
  return (typeof detail === 'string' ? detail : JSON.stringify(detail ?? '')).slice(0, 500);
}
