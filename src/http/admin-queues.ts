import { createBullBoard } from '@bull-board/api';
import type { BaseAdapter } from '@bull-board/api/dist/queueAdapters/base.js';
import { ExpressAdapter } from '@bull-board/express';
import express from 'express';
import type { Logger } from '../logger.js';
import { basicAuthPasses } from './basic-auth.js';
import { createLoginThrottle, type LoginThrottleOptions } from './login-throttle.js';
import { respond, type RouteHandler } from './server.js';

/** Where the queue dashboard is mounted. */
export const ADMIN_QUEUES_PATH = '/admin/queues';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const REALM = 'Likeness admin';

/**
 * A browser sends cached Basic credentials with any request to the host, including one a foreign
 * page makes it send. Changes (retry, clean, remove jobs) are accepted only from the dashboard's
 * own origin; requests without an Origin header (curl, scripts) are not browsers' and pass.
 */
function sameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (!origin) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

export interface QueueAdminOptions {
  /** ADMIN_PASSWORD (config makes it 16+ characters); without one there is no dashboard. */
  password?: string;
  queues: readonly BaseAdapter[];
  /** ADMIN_QUEUES_WRITE: whether the dashboard may change queues; read-only otherwise. */
  write: boolean;
  logger: Logger;
  basePath?: string;
  /** How failed passwords slow an address down (tests shorten it). */
  throttle?: LoginThrottleOptions;
}

/**
 * The bull-board dashboard of the queues, behind HTTP Basic auth with `password` (any user name).
 * Without a password there is no dashboard at all: the route answers 404, it is never open.
 * Every wrong password is logged (address and count, never what was typed); after a few, the
 * address must wait, doubling with each further failure, and is answered 429 without a check
 * until then. Unless `write`, only reads pass: pausing, adding, cleaning, emptying or
 * obliterating a queue is refused with 403, and the dashboard shows no such buttons.
 */
export function createQueueAdminRoute(options: QueueAdminOptions): RouteHandler {
  const { password } = options;
  if (!password) return (_req, res) => respond(res, 404, 'not found (set ADMIN_PASSWORD to enable the queue dashboard)');

  const logger = options.logger.child({ component: 'admin' });
  const throttle = createLoginThrottle(options.throttle);
  // bull-board hides its buttons for read-only queues; the method check below is what enforces it.
  if (!options.write) for (const queue of options.queues) Object.assign(queue, { readOnlyMode: true });
  const basePath = options.basePath ?? ADMIN_QUEUES_PATH;
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({ queues: options.queues, serverAdapter, options: { uiConfig: { boardTitle: 'Likeness queues' } } });
  const board = express();
  board.disable('x-powered-by');
  board.use(basePath, serverAdapter.getRouter() as express.Router);

  const challenge = (res: Parameters<RouteHandler>[1]) => {
    res.setHeader('www-authenticate', `Basic realm="${REALM}", charset="UTF-8"`);
    respond(res, 401, 'authentication required');
  };

  return (req, res) => {
    const address = req.socket.remoteAddress ?? 'unknown';
    const waitMs = throttle.waitMs(address);
    if (waitMs > 0) {
      res.setHeader('retry-after', String(Math.ceil(waitMs / 1000)));
      return respond(res, 429, 'too many failed attempts: try again later');
    }
    // A browser asks once without credentials before it prompts: that is no failed attempt.
    if (req.headers.authorization === undefined) return challenge(res);
    if (!basicAuthPasses(req.headers.authorization, password)) {
      const { failures, waitMs: lockedForMs } = throttle.failed(address);
      logger.warn({ address, failures, lockedForMs, method: req.method }, 'admin login failed');
      return challenge(res);
    }
    throttle.succeeded(address);

    const method = req.method ?? 'GET';
    if (!SAFE_METHODS.has(method) && !options.write) return respond(res, 403, 'the queue dashboard is read-only (set ADMIN_QUEUES_WRITE=true to allow changes)');
    if (!SAFE_METHODS.has(method) && !sameOrigin(req.headers.origin, req.headers.host)) return respond(res, 403, 'cross-origin request refused');
    res.setHeader('cache-control', 'no-store');
    board(req as express.Request, res as express.Response);
  };
}
