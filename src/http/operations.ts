import type { Redis } from 'ioredis';
import type { App } from '../app.js';
import type { SignedLinks } from '../bots/core/deliverer.js';
import { metricTotals } from '../db/metrics.repository.js';
import type { BackendHealthCheck } from '../gpu/backend-health.js';
import type { DeliveryObserver } from '../jobs/delivery.handler.js';
import { openQueueInspection } from '../jobs/queue-inspection.js';
import { ADMIN_QUEUES_PATH, createQueueAdminRoute } from './admin-queues.js';
import { createFileDownloadRoute, createSignedLinks, FILES_PATH } from './file-downloads.js';
import { addLogSecret } from '../logger.js';
import { createLinkSecret } from './link-secret.js';
import { createServiceMetrics, type ServiceMetrics } from './metrics.js';
import { registerProbes, type ProbeDeps } from './probes.js';
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
 * Registers the operator's routes on the bots process's HTTP server: the probes (`/healthz`,
 * `/readyz`: see probes.ts), `/metrics` (Prometheus),
 * `/admin/queues` (bull-board behind ADMIN_PASSWORD; 404 without one) and `/files/<token>`
 * (signed, expiring downloads of results too large for a chat).
 */
export function registerOperations(router: HttpRouter, deps: OperationsDeps): Operations {
  const { app, redis } = deps;
  const { config } = app;
  const queues = openQueueInspection({ connection: redis, prefix: config.queuePrefix });

  const readiness = registerProbes(router, { app, redis, gpuHealth: deps.gpuHealth, workers: deps.workers });

  const metrics = createServiceMetrics({ totals: () => metricTotals(app.database.db), queueDepth: () => queues.depth() });
  router.route('GET', '/metrics', metrics.route);

  router.routePrefix('*', ADMIN_QUEUES_PATH, createQueueAdminRoute({ password: config.http.adminPassword, queues: queues.boardAdapters() }));

  const secret = createLinkSecret({
    configured: config.http.linkSecret,
    redis,
    key: `${config.queuePrefix}:http:link-secret`,
    onGenerated: (generated) => addLogSecret(app.logger, generated),
  });
  const download = createFileDownloadRoute({ secret, store: app.store, logger: app.logger, now: deps.now });
  router.routePrefix('GET', FILES_PATH, download);
  router.routePrefix('HEAD', FILES_PATH, download);
  const links = createSignedLinks({ secret, publicUrl: config.http.publicUrl, ttlHours: config.http.fileLinkTtlHours, now: deps.now });

  return { links, deliveryObserver: metrics.deliveryObserver, readiness, metrics, close: () => queues.close() };
}
