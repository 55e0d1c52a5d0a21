import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';

/** Handles one request; a throw becomes a logged 500 (the error is never shown to the client). */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';

/** Where features add their routes (health, metrics, admin, downloads, the Telegram webhook). */
export interface HttpRouter {
  /** Registers `handler` for an exact path (no query string); a path registered twice for one method is a bug and throws. */
  route(method: HttpMethod, path: string, handler: RouteHandler): void;
}

/** The service's HTTP server: a tiny exact-path router over node:http. */
export interface HttpServer extends HttpRouter {
  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting connections and closes idle ones; resolves when the server is closed. */
  close(): Promise<void>;
  readonly server: Server;
}

/** Thrown by {@link readBody} when a body is larger than allowed; the server answers 413. */
export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`request body over ${maxBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** Reads a request body, giving up with {@link BodyTooLargeError} as soon as it passes `maxBytes`. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > maxBytes) throw new BodyTooLargeError(maxBytes);
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new BodyTooLargeError(maxBytes);
    parts.push(chunk);
  }
  return Buffer.concat(parts, total);
}

/** Sends a small JSON (or, for a string, plain-text) answer. */
export function respond(res: ServerResponse, status: number, body: unknown = ''): void {
  if (res.headersSent) return void res.end();
  const json = typeof body !== 'string';
  const payload = json ? JSON.stringify(body) : body;
  res.writeHead(status, { 'content-type': json ? 'application/json' : 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

export function createHttpServer(options: { logger: Logger }): HttpServer {
  const routes = new Map<string, Map<string, RouteHandler>>();
  const logger = options.logger.child({ component: 'http' });

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const byMethod = routes.get(path);
    const handler = byMethod?.get(req.method ?? 'GET');
    if (!byMethod) return respond(res, 404, 'not found');
    if (!handler) {
      res.setHeader('allow', [...byMethod.keys()].join(', '));
      return respond(res, 405, 'method not allowed');
    }
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((error: unknown) => {
        if (error instanceof BodyTooLargeError) return respond(res, 413, 'payload too large');
        logger.error({ err: error, method: req.method, path }, 'http handler failed');
        respond(res, 500, 'internal error');
      });
  });
  // Slow or idle clients must not hold sockets open forever.
  server.requestTimeout = 60_000;
  server.headersTimeout = 15_000;

  return {
    server,
    route(method, path, handler) {
      const byMethod = routes.get(path) ?? new Map<string, RouteHandler>();
      if (byMethod.has(method)) throw new Error(`route ${method} ${path} is already registered`);
      byMethod.set(method, handler);
      routes.set(path, byMethod);
    },
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    close() {
      return new Promise((resolve, reject) => {
        if (!server.listening) return resolve();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      });
    },
  };
}
