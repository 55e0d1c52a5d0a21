import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { DISCORD_ERROR, DiscordRequestError, scrubDiscordText } from './discord-errors.js';

/**
 * Discord asks every client to say who it is, as `DiscordBot ($url, $version)`
 * (https://discord.com/developers/docs/reference#user-agent); the project has no public URL, so
 * this names the library the rest of the bot's requests go through, and then Likeness.
 */
const USER_AGENT = 'DiscordBot (https://discord.js.org, 14) Likeness/0.1 (interaction callbacks)';

/** An acknowledgement is worth nothing after Discord's 3 seconds: no retry starts later than this after the first try. */
const RETRY_WINDOW_MS = 2_500;

/**
 * Connections kept to Discord for acknowledgements. A burst past this many waits for a free one
 * (a round trip) rather than opening more: every new connection costs a TLS handshake on both
 * ends, which over hundreds at once costs more than the wait. 128 in flight over a 30 ms round
 * trip acknowledge 500 interactions in about four round trips.
 */
const DEFAULT_MAX_SOCKETS = 128;

/** Posts interaction callbacks (`POST /interactions/{id}/{token}/callback`). */
export interface InteractionCallbackPoster {
  /**
   * Sends one callback. Resolves once Discord accepted it (2xx); rejects with a DiscordRequestError
   * (status and Discord's JSON code, no token) when it refused, or with the network's error. A
   * 429 or a 5xx is tried again while the answer can still be in time.
   */
  post(interactionId: string, token: string, body: unknown): Promise<void>;
  /** Closes the kept-alive connections. */
  close(): void;
}

/**
 * A lean client for the one request that must be fast under load: the acknowledgement. A burst of
 * interactions is hundreds of callbacks at once, each to its own URL and outside the bot's
 * rate-limit buckets (interaction endpoints are not bound to the global limit); discord.js's REST
 * queue over undici cost about three times the CPU per request of a plain keep-alive
 * `node:http(s)` request when profiled over a burst of 500, and that CPU is what delays the last
 * acknowledgements of a burst. The
 * callback needs no bot token. `apiBase` is `DISCORD_API_BASE` (e.g. https://discord.com/api).
 */
export function createInteractionCallbackPoster(apiBase: string, options: { timeoutMs?: number; maxSockets?: number } = {}): InteractionCallbackPoster {
  const base = new URL(apiBase);
  const secure = base.protocol === 'https:';
  const request = secure ? httpsRequest : httpRequest;
  const prefix = `${base.pathname.replace(/\/$/, '')}/v10/interactions/`;
  // LIFO keeps the fewest sockets warm between bursts.
  const agentOptions = { keepAlive: true, scheduling: 'lifo' as const, maxSockets: options.maxSockets ?? DEFAULT_MAX_SOCKETS };
  const agent = secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  const timeoutMs = options.timeoutMs ?? 10_000;

  function once(interactionId: string, token: string, payload: string): Promise<{ status: number; body: string; retryAfterMs?: number }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port || undefined,
          path: `${prefix}${interactionId}/${token}/callback`,
          method: 'POST',
          agent,
          timeout: timeoutMs,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'user-agent': USER_AGENT },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const retryAfter = Number(res.headers['retry-after']);
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ...(Number.isFinite(retryAfter) ? { retryAfterMs: retryAfter * 1000 } : {}) });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`interaction callback timed out after ${timeoutMs} ms`)));
      // Node's errors name the host and port, never the path (where the token is); scrubbed anyway.
      req.on('error', (error) => reject(Object.assign(new Error(scrubDiscordText(error.message)), { code: (error as { code?: unknown }).code })));
      req.end(payload);
    });
  }

  return {
    async post(interactionId, token, body) {
      const payload = JSON.stringify(body);
      const started = performance.now();
      for (let attempt = 0; ; attempt++) {
        let answer: Awaited<ReturnType<typeof once>> | undefined;
        let failure: unknown;
        try {
          answer = await once(interactionId, token, payload);
        } catch (error) {
          failure = error;
        }
        if (answer && answer.status >= 200 && answer.status < 300) return;
        // An earlier try that failed on the way back may have arrived: then this one is its echo.
        if (answer && attempt > 0 && answer.status === 400 && codeOf(answer.body) === DISCORD_ERROR.alreadyAcknowledged) return;
        const waitMs = answer?.status === 429 ? (answer.retryAfterMs ?? 1_000) : answer && answer.status < 500 ? undefined : 100;
        if (waitMs === undefined || performance.now() - started + waitMs > RETRY_WINDOW_MS) {
          if (!answer) throw failure;
          throw refusal(answer.status, answer.body, interactionId);
        }
        await sleep(waitMs);
      }
    },
    close() {
      agent.destroy();
    },
  };
}

function parse(body: string): { code?: number; message?: string } {
  try {
    const parsed = JSON.parse(body) as { code?: unknown; message?: unknown };
    return { code: typeof parsed.code === 'number' ? parsed.code : undefined, message: typeof parsed.message === 'string' ? parsed.message : undefined };
  } catch {
    return {}; // not JSON: the status says enough
  }
}

const codeOf = (body: string) => parse(body).code;

function refusal(status: number, body: string, interactionId: string): DiscordRequestError {
  const { code, message = `HTTP ${status}` } = parse(body);
  return new DiscordRequestError(
    scrubDiscordText(`Discord said ${status} (${code ?? 'no code'}): ${message}`),
    status,
    code,
    'POST',
    `/interactions/${interactionId}/[REDACTED]/callback`,
  );
}
