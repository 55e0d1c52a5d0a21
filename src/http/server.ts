import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';

/** Handles one request; a throw becomes a logged 500 (the error is never shown to the client). */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';

/** Where features add their routes (health, metrics, admin, downloads, the Telegram webhook). */
export interface HttpRouter {
  /** Registers `handler` for an exact path (no query string); a path registered twice for one method is a bug and throws. */
  route(method: HttpMethod, path: string, handler: RouteHandler): void;
  /**
   * Registers `handler` for `prefix` itself and every path below it (`/files` serves `/files/abc`,
   * not `/filesystem`); `'*'` takes every method. Exact routes win over prefixes, and the longest
   * prefix wins over shorter ones. Registering one prefix twice for one method throws.
   */
  routePrefix(method: HttpMethod | '*', prefix: string, handler: RouteHandler): void;
}

/** The service's HTTP server: a tiny router (exact paths, then path prefixes) over node:http. */
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

/** Whether `path` is `prefix` or lies below it (`/files` covers `/files/x`, not `/filesx`). */
export function underPrefix(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
}

/** How long a client may take and how many may connect; every field has a safe default. */
export interface HttpServerLimits {
  /** The request's headers must all arrive within this, or the socket is closed (slow headers). Default 10 s. */
  headersTimeoutMs?: number;
  /** The whole request, headers and body, within this (not the response). Default 30 s. */
  requestTimeoutMs?: number;
  /** A kept-alive socket waiting for its next request is closed after this. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /** A socket on which nothing moves either way (a client that stopped reading a download) is closed after this. Default 30 s. */
  idleTimeoutMs?: number;
  /** Sockets held at once; a connection past it is closed as soon as it is accepted. Default 1024. */
  maxConnections?: number;
}

const DEFAULT_LIMITS: Required<HttpServerLimits> = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, idleTimeoutMs: 30_000, maxConnections: 1024 };

/** The service's HTTP server over node:http, with the time and connection limits of `limits`. */
export function createHttpServer(options: { logger: Logger; limits?: HttpServerLimits }): HttpServer {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const routes = new Map<string, Map<string, RouteHandler>>();
  /** Longest first, so the most specific prefix answers. */
  const prefixes: Array<{ prefix: string; byMethod: Map<string, RouteHandler> }> = [];
  const logger = options.logger.child({ component: 'http' });

  /** The handlers for a path (by method) and the pattern that matched; the pattern, not the path, is logged (paths may carry tokens). */
  const match = (path: string): { byMethod: Map<string, RouteHandler>; pattern: string } | undefined => {
    const exact = routes.get(path);
    if (exact) return { byMethod: exact, pattern: path };
    const found = prefixes.find((p) => underPrefix(path, p.prefix));
    return found && { byMethod: found.byMethod, pattern: `${found.prefix}/*` };
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const matched = match(path);
    if (!matched) return respond(res, 404, 'not found');
    const handler = matched.byMethod.get(req.method ?? 'GET') ?? matched.byMethod.get('*');
    if (!handler) {
      res.setHeader('allow', [...matched.byMethod.keys()].join(', '));
      return respond(res, 405, 'method not allowed');
    }
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((error: unknown) => {
        if (error instanceof BodyTooLargeError) return respond(res, 413, 'payload too large');
        logger.error({ err: error, method: req.method, route: matched.pattern }, 'http handler failed');
        respond(res, 500, 'internal error');
      });
  };

  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node enforces the two timeouts above only when it checks, every 30 s by default: a
      // slow-headers client was held about 45 s.
      connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(limits.headersTimeoutMs / 4))),
    },
    handle,
  );
  // No 'timeout' listener: node destroys a socket idle this long, and a piped download with it.
  server.timeout = limits.idleTimeoutMs;
  server.maxConnections = limits.maxConnections;

  return {
    server,
    route(method, path, handler) {
      const byMethod = routes.get(path) ?? new Map<string, RouteHandler>();
      if (byMethod.has(method)) throw new Error(`route ${method} ${path} is already registered`);
      byMethod.set(method, handler);
      routes.set(path, byMethod);
    },
    routePrefix(method, prefix, handler) {
      const normalized = prefix.replace(/\/+$/, '');
      if (!normalized.startsWith('/')) throw new Error(`route prefix ${prefix} must start with /`);
      let entry = prefixes.find((p) => p.prefix === normalized);
      if (!entry) {
        entry = { prefix: normalized, byMethod: new Map() };
        prefixes.push(entry);
        prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
      }
      if (entry.byMethod.has(method)) throw new Error(`route ${method} ${normalized}/* is already registered`);
      entry.byMethod.set(method, handler);
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
