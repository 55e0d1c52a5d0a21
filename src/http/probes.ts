import type { Redis } from 'ioredis';
import type { App } from '../app.js';
import { pingDatabase } from '../db/metrics.repository.js';
import { createBackendHealthCheck, type BackendHealthCheck } from '../gpu/backend-health.js';
import { createReadiness, readinessRoute, type Readiness } from './readiness.js';
import { respond, type HttpRouter, type RouteHandler } from './server.js';

/** How long each readiness part may take. */
const READY_TIMEOUT_MS = 2_000;

export interface ProbeDeps {
  app: Pick<App, 'config' | 'database' | 'logger'>;
  /** A connection of the caller's, pinged for readiness. */
  redis: Redis;
  /** Default: the configured backend's check (see createBackendHealthCheck). */
  gpuHealth?: BackendHealthCheck;
  /** The queue workers this process runs: the process is not live once one of them has stopped. */
  workers?: () => ReadonlyArray<{ name: string; isRunning(): boolean }>;
}

/** `GET /healthz`: live while the event loop answers and the process's queue workers run; 503 naming a stopped one. */
export function livenessRoute(workers: ProbeDeps['workers']): RouteHandler {
  return (_req, res) => {
    const stopped = (workers?.() ?? []).filter((worker) => !worker.isRunning()).map((worker) => worker.name);
    res.setHeader('cache-control', 'no-store');
    if (stopped.length === 0) res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    else respond(res, 503, { live: false, stopped });
  };
}

/**
 * The probes every long-running process serves on its operations listener: `/healthz` (see
 * livenessRoute) and `/readyz` (Postgres, Redis and the GPU backend answer, each within 2 s;
 * generic reasons in the answer, the details in the log).
 */
export function registerProbes(router: HttpRouter, deps: ProbeDeps): Readiness {
  const { app, redis } = deps;
  router.route('GET', '/healthz', livenessRoute(deps.workers));

  const gpuHealth = deps.gpuHealth ?? createBackendHealthCheck(app.config.gpu);
  const readiness = createReadiness(
    {
      postgres: () => pingDatabase(app.database.pool, READY_TIMEOUT_MS),
      redis: async () => void (await redis.ping()),
      gpu: (signal) => gpuHealth(signal),
    },
    { timeoutMs: READY_TIMEOUT_MS, logger: app.logger },
  );
  router.route('GET', '/readyz', readinessRoute(readiness));
  return readiness;
}
