/**
 * A proxy in front of the fake Telegram that plays Telegram's flood control: while limiting, the
 * bot's sending methods (send*, edit*) get through at `perSecond` at most, and the rest are
 * answered 429 with `retry_after`, as Telegram does. It also checks the bot's manners: a request
 * to a chat that was told to wait and came back early counts as `early`.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RateLimitProxy {
  url: string;
  /** From now on, at most `perSecond` sending calls a second get through; the rest get 429 with `retryAfterS`. */
  limit(perSecond: number, retryAfterS: number): void;
  /** Lets everything through again. */
  unlimit(): void;
  readonly stats: {
    /** Sending calls passed on while limiting, with their times. */
    passed: number[];
    /** Answered 429. */
    limited: number;
    /** Calls of a method to a chat that came back before the retry_after it was given was up. */
    early: number;
  };
  close(): Promise<void>;
}

const SENDING = /^\/bot[^/]+\/(send|edit)\w*$/;

/** Pure: the chat_id of a Bot API request body (JSON or multipart), when it has one. */
export function chatIdOf(body: Buffer, contentType: string): string | undefined {
  const text = body.toString('latin1');
  if (contentType.startsWith('application/json')) {
    try {
      const id = (JSON.parse(text) as { chat_id?: unknown }).chat_id;
      return id === undefined ? undefined : String(id);
    } catch {
      return undefined;
    }
  }
  return /name="chat_id"\r\n\r\n(-?\w+)\r\n/.exec(text)?.[1];
}

export async function startRateLimitProxy(target: string): Promise<RateLimitProxy> {
  const upstream = new URL(target);
  let limiting: { perSecond: number; retryAfterS: number } | undefined;
  const stats = { passed: [] as number[], limited: 0, early: 0 };
  /** Per chat and method: not before this time (ms), as the last 429 told it. */
  const waitUntil = new Map<string, number>();

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const out = request(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    out.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = new URL(req.url ?? '/', 'http://proxy').pathname;
      if (!limiting || !SENDING.test(path)) return forward(req, res, body);
      const now = Date.now();
      const key = `${chatIdOf(body, req.headers['content-type'] ?? '') ?? '?'}:${path.split('/').pop()}`;
      // A client that waited retry_after out may arrive a few ms before our clock says so.
      if ((waitUntil.get(key) ?? 0) - 250 > now) stats.early += 1;
      const lastSecond = stats.passed.filter((t) => t > now - 1_000).length;
      if (lastSecond < limiting.perSecond) {
        stats.passed.push(now);
        return forward(req, res, body);
      }
      stats.limited += 1;
      waitUntil.set(key, now + limiting.retryAfterS * 1_000);
      const json = JSON.stringify({ ok: false, error_code: 429, description: `Too Many Requests: retry after ${limiting.retryAfterS}`, parameters: { retry_after: limiting.retryAfterS } });
      res.writeHead(429, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    limit(perSecond, retryAfterS) {
      limiting = { perSecond, retryAfterS };
    },
    unlimit() {
      limiting = undefined;
    },
    stats,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
