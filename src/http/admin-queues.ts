import { createBullBoard } from '@bull-board/api';
import type { BaseAdapter } from '@bull-board/api/dist/queueAdapters/base.js';
import { ExpressAdapter } from '@bull-board/express';
import express from 'express';
import { requireBasicAuth } from './basic-auth.js';
import { respond, type RouteHandler } from './server.js';

/** Where the queue dashboard is mounted. */
export const ADMIN_QUEUES_PATH = '/admin/queues';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

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

/**
 * The bull-board dashboard of the queues, behind HTTP Basic auth with `password` (any user name).
 * Without a password there is no dashboard at all: the route answers 404, it is never open.
 */
export function createQueueAdminRoute(options: { password?: string; queues: readonly BaseAdapter[]; basePath?: string }): RouteHandler {
  const { password } = options;
  if (!password) return (_req, res) => respond(res, 404, 'not found (set ADMIN_PASSWORD to enable the queue dashboard)');

  const basePath = options.basePath ?? ADMIN_QUEUES_PATH;
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({ queues: options.queues, serverAdapter, options: { uiConfig: { boardTitle: 'Likeness queues' } } });
  const board = express();
  board.disable('x-powered-by');
  board.use(basePath, serverAdapter.getRouter() as express.Router);

  return (req, res) => {
    if (!requireBasicAuth(req, res, password, 'Likeness admin')) return;
    if (!SAFE_METHODS.has(req.method ?? 'GET') && !sameOrigin(req.headers.origin, req.headers.host)) return respond(res, 403, 'cross-origin request refused');
    res.setHeader('cache-control', 'no-store');
    board(req as express.Request, res as express.Response);
  };
}
