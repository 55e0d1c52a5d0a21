import type { Redis } from 'ioredis';
import type { App } from '../app.js';
import type { SignedLinks } from '../bots/core/deliverer.js';
import { metricTotals } from '../db/metrics.repository.js';
import type { BackendHealthCheck } from '../gpu/backend-health.js';
import type { DeliveryObserver } from '../bots/core/job-delivery.js';
import { openQueueInspection } from '../jobs/queue-inspection.js';
import { ADMIN_QUEUES_PATH, createQueueAdminRoute } from './admin-queues.js';
import { isDownloadableResult } from '../db/results.repository.js';
import { addLogSecret } from '../logger.js';
import type { LoginThrottleOptions } from './login-throttle.js';
import { createFileDownloadRoute, createSignedLinks, FILES_PATH } from './file-downloads.js';
import { createLinkSecret } from './link-secret.js';
import { createServiceMetrics, type ServiceMetrics } from './metrics.js';
import { livenessRoute, registerProbes, type ProbeDeps } from './probes.js';
import type { Readiness } from './readiness.js';
import type { HttpRouter } from './server.js';

export interface OperationsDeps {
  app: Pick<App, 'config' | 'database' | 'store' | 'logger'>;
  /**
   * A producer connection (the caller owns it): pinged for readiness, reads the queues for metrics
   * and the dashboard, and holds the shared link secret when LINK_SECRET is unset.
   */
  redis: Redis;
  /** Default: the configured backend's check (see createBackendHealthCheck). */
  gpuHealth?: BackendHealthCheck;
  /** The queue workers of this process, for `/healthz`. */
  workers?: ProbeDeps['workers'];
  /** Milliseconds since the epoch, for link expiry (tests move it on). */
  now?: () => number;
  /** How failed dashboard passwords slow an address down (tests shorten it). */
  adminThrottle?: LoginThrottleOptions;
}

/** The two listeners of a bots process; tests may pass one router as both. */
export interface OperationsRouters {
  /** Faces the internet (through a TLS proxy): `/files/<token>` and a `/healthz` for platform probes. */
  public: HttpRouter;
  /** OPS_HOST:OPS_PORT, loopback by default: `/healthz`, `/readyz`, `/metrics`, `/admin/queues`. */
  operations: HttpRouter;
}

/** What the chat side needs from the operations routes. */
export interface Operations {
  /** Signed links for the deliverers (undefined URLs without PUBLIC_URL). */
  links: SignedLinks;
  /** For the delivery worker of this process. */
  deliveryObserver: DeliveryObserver;
  readiness: Readiness;
  metrics: ServiceMetrics;
  /** Releases what the routes hold (the queues they inspect); the caller closes the connection. */
  close(): Promise<void>;
}

/**
 * Registers the bots process's routes. On the operations listener: the probes (`/healthz`,
 * `/readyz`: see probes.ts), `/metrics` (Prometheus) and `/admin/queues` (bull-board behind
 * ADMIN_PASSWORD, read-only unless ADMIN_QUEUES_WRITE; 404 without a password). On the public one:
 * `/files/<token>` (signed, expiring downloads of results too large for a chat, served only while
 * the result's row is live) and `/healthz`.
 */
export function registerOperations(routers: OperationsRouters, deps: OperationsDeps): Operations {
  const { app, redis } = deps;
  const { config } = app;
  const queues = openQueueInspection({ connection: redis, prefix: config.queuePrefix });
  const ops = routers.operations;

  const readiness = registerProbes(ops, { app, redis, gpuHealth: deps.gpuHealth, workers: deps.workers });
  if (routers.public !== ops) routers.public.route('GET', '/healthz', livenessRoute(deps.workers));

  const metrics = createServiceMetrics({ totals: () => metricTotals(app.database.db), queueDepth: () => queues.depth() });
  ops.route('GET', '/metrics', metrics.route);

  const admin = createQueueAdminRoute({
    password: config.http.adminPassword,
    queues: queues.boardAdapters(),
    write: config.http.adminQueuesWrite,
    logger: app.logger,
    throttle: deps.adminThrottle,
  });
  ops.routePrefix('*', ADMIN_QUEUES_PATH, admin);

  const secret = createLinkSecret({
    configured: config.http.linkSecret,
    redis,
    key: `${config.queuePrefix}:http:link-secret`,
    onGenerated: (generated) => addLogSecret(app.logger, generated),
  });
  const download = createFileDownloadRoute({
    secret,
    store: app.store,
    isDownloadable: (artifactKey) => isDownloadableResult(app.database.db, artifactKey),
    ttlHours: config.http.fileLinkTtlHours,
    perAddress: config.http.downloadsPerAddress,
    logger: app.logger,
    now: deps.now,
  });
  routers.public.routePrefix('GET', FILES_PATH, download);
  routers.public.routePrefix('HEAD', FILES_PATH, download);
  const links = createSignedLinks({ secret, publicUrl: config.http.publicUrl, ttlHours: config.http.fileLinkTtlHours, now: deps.now });

  return { links, deliveryObserver: metrics.deliveryObserver, readiness, metrics, close: () => queues.close() };
}
