import { realClock, type Clock } from './clock.js';

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** How one HTTP request to a GPU service is retried before the job-level retry takes over. */
export interface RetryPolicy {
  /** Retries after the first try, on 429, 5xx or a network error (time-outs included). */
  retries: number;
  /** Delay before the first retry when the server sends no Retry-After; doubles per retry. */
  baseDelayMs: number;
  /** A Retry-After longer than this is not waited out: the request gives up and the job is retried later. */
  maxDelayMs: number;
  /** Time limit of each try. */
  timeoutMs: number;
}

export interface RetryNotice {
  url: string;
  attempt: number;
  delayMs: number;
  status?: number;
  error?: unknown;
}

/** Whether a response says "try again later": rate limited or a server-side failure. */
export const isRetryableStatus = (status: number): boolean => status === 429 || status >= 500;

/**
 * Milliseconds a `Retry-After` header asks for (delta-seconds or an HTTP date), or undefined when
 * there is none or it cannot be read.
 */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const value = header.trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

type Outcome = { kind: 'response'; status: number; statusText: string; headers: [string, string][]; body: ArrayBuffer } | { kind: 'error'; error: unknown };

/**
 * A fetch that retries 429, 5xx and network errors with exponential back-off, honouring
 * `Retry-After`, and gives each try its own time limit. 4xx answers other than 429 come back at once.
 *
 * The caller's `signal` stops the retrying (rejecting with the signal's reason) but never cuts a
 * request in half: a request already sent is let finish (within its time limit) and its answer is
 * returned. Otherwise an abort during `POST /predictions` could start a prediction whose id we never
 * learn, and so could never cancel; this way the caller gets the id, sees its signal aborted, and
 * cancels it.
 *
 * Why not the replicate client's own retries: they ignore Retry-After and do not wait between tries
 * (replicate 1.4 `withAutomaticRetries`), and cover only GETs for 5xx. This fetch is given to the
 * client; when it gives up, the client's own loop asks again with the same `init`, and is answered
 * at once with the same final outcome, so no request is sent twice as often as the policy says.
 */
export function createRetryingFetch(policy: RetryPolicy, deps: { fetch?: FetchLike; clock?: Clock; onRetry?: (notice: RetryNotice) => void } = {}): FetchLike {
  const baseFetch = deps.fetch ?? ((input, init) => fetch(input, init));
  const clock = deps.clock ?? realClock;
  const gaveUp = new WeakMap<object, Outcome>();

  const replay = (outcome: Outcome): Response => {
    if (outcome.kind === 'error') throw outcome.error;
    return new Response(outcome.body.byteLength > 0 ? outcome.body.slice(0) : null, { status: outcome.status, statusText: outcome.statusText, headers: outcome.headers });
  };

  return async (input, init) => {
    const signal = init?.signal ?? undefined;
    const remembered = init ? gaveUp.get(init) : undefined;
    if (remembered) return replay(remembered);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;

    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const tryTimeout = AbortSignal.timeout(policy.timeoutMs);
      let response: Response | undefined;
      let error: unknown;
      try {
        response = await baseFetch(input, { ...init, signal: tryTimeout });
      } catch (caught) {
        if (signal?.aborted) throw signal.reason;
        error = caught;
      }
      if (response && !isRetryableStatus(response.status)) return response;
      if (signal?.aborted) {
        await response?.body?.cancel().catch(() => undefined);
        throw signal.reason;
      }

      const asked = response ? retryAfterMs(response.headers.get('retry-after')) : undefined;
      const delayMs = asked ?? policy.baseDelayMs * 2 ** attempt;
      if (attempt >= policy.retries || delayMs > policy.maxDelayMs) {
        const outcome: Outcome = response
          ? { kind: 'response', status: response.status, statusText: response.statusText, headers: [...response.headers], body: await response.arrayBuffer().catch(() => new ArrayBuffer(0)) }
          : { kind: 'error', error };
        if (init) gaveUp.set(init, outcome);
        return replay(outcome);
      }
      // Free the connection before waiting.
      await response?.body?.cancel().catch(() => undefined);
      deps.onRetry?.({ url, attempt: attempt + 1, delayMs, status: response?.status, error });
      await clock.sleep(delayMs, signal);
    }
  };
}
