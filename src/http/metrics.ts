import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricTotals } from '../db/metrics.repository.js';
import type { DeliveryObserver } from '../bots/core/job-delivery.js';
import type { QueueDepth } from '../jobs/queue-inspection.js';
import type { RouteHandler } from './server.js';

/** Where cluster-wide figures come from at scrape time. */
export interface MetricSources {
  /** Job counts, GPU seconds and cost, from Postgres. */
  totals(): Promise<MetricTotals>;
  /** Jobs per queue and state, from Redis (BullMQ). */
  queueDepth(): Promise<QueueDepth[]>;
}

/** The service's Prometheus metrics: its own registry (never prom-client's global one). */
export interface ServiceMetrics {
  readonly registry: Registry;
  /** Give to the delivery worker: observes per-job durations and failed delivery attempts in this process. */
  readonly deliveryObserver: Required<DeliveryObserver>;
  /** `GET /metrics` in the Prometheus text format. */
  readonly route: RouteHandler;
}

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);
const SOURCE_TIMEOUT_MS = 2_000;

interface Snapshot {
  totals?: MetricTotals;
  depth?: QueueDepth[];
}

const withTimeout = <T>(promise: Promise<T>, ms: number): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });

/**
 * Builds the metrics. What must be right across every process is read where every process writes
 * it, at scrape time: finished jobs, GPU seconds and cost from Postgres, queue depth from BullMQ;
 * every bots process reports the same values for those (aggregate them with `max`, not `sum`).
 * Per-job durations are observed by the delivery worker of this process, which sees every finished
 * job of its platforms (sum those across processes). A source that does not answer drops its series
 * for that scrape and sets `likeness_metrics_source_up{source}` to 0, instead of failing the scrape.
 */
export function createServiceMetrics(sources: MetricSources, options: { defaultMetrics?: boolean } = {}): ServiceMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const load = (): Promise<Snapshot> =>
    Promise.all([withTimeout(sources.totals(), SOURCE_TIMEOUT_MS).catch(() => undefined), withTimeout(sources.queueDepth(), SOURCE_TIMEOUT_MS).catch(() => undefined)]).then(
      ([totals, depth]) => ({ totals, depth }),
    );
  /** The read of the scrape in progress: its collects share it. Outside a scrape each collect reads for itself. */
  let scrapeSnapshot: Promise<Snapshot> | undefined;
  const snapshot = (): Promise<Snapshot> => scrapeSnapshot ?? load();

  new Counter({
    name: 'likeness_jobs_total',
    help: 'Finished jobs by kind and outcome (succeeded, failed, cancelled), all processes (from Postgres).',
    labelNames: ['kind', 'outcome'],
    registers,
    async collect() {
      const { totals } = await snapshot();
      this.reset();
      for (const row of totals?.jobs ?? []) if (FINISHED.has(row.status)) this.inc({ kind: row.kind, outcome: row.status }, row.count);
    },
  });
  new Gauge({
    name: 'likeness_jobs_in_progress',
    help: 'Jobs queued or running by kind, all processes (from Postgres).',
    labelNames: ['kind', 'status'],
    registers,
    async collect() {
      const { totals } = await snapshot();
      this.reset();
      for (const row of totals?.jobs ?? []) if (!FINISHED.has(row.status)) this.set({ kind: row.kind, status: row.status }, row.count);
    },
  });
  new Counter({
    name: 'likeness_gpu_seconds_total',
    help: 'GPU seconds used by jobs, by backend, all processes (from Postgres).',
    labelNames: ['backend'],
    registers,
    async collect() {
      const { totals } = await snapshot();
      this.reset();
      for (const row of totals?.backends ?? []) this.inc({ backend: row.backend }, row.gpuSeconds);
    },
  });
  new Counter({
    name: 'likeness_gpu_cost_usd_total',
    help: 'What the GPU work cost in USD, by backend, all processes (from Postgres).',
    labelNames: ['backend'],
    registers,
    async collect() {
      const { totals } = await snapshot();
      this.reset();
      for (const row of totals?.backends ?? []) this.inc({ backend: row.backend }, row.costUsd);
    },
  });
  new Gauge({
    name: 'likeness_queue_jobs',
    help: 'Jobs in each queue (gpu, delivery) by state (from Redis).',
    labelNames: ['queue', 'state'],
    registers,
    async collect() {
      const { depth } = await snapshot();
      this.reset();
      for (const row of depth ?? []) this.set({ queue: row.queue, state: row.state }, row.count);
    },
  });
  new Gauge({
    name: 'likeness_metrics_source_up',
    help: '1 when the source answered for this scrape, 0 when its series are missing from it.',
    labelNames: ['source'],
    registers,
    async collect() {
      const { totals, depth } = await snapshot();
      this.set({ source: 'postgres' }, totals ? 1 : 0);
      this.set({ source: 'redis' }, depth ? 1 : 0);
    },
  });

  const queueWait = new Histogram({
    name: 'likeness_job_queue_wait_seconds',
    help: 'From the request to the first GPU attempt, per delivered job (observed by this process).',
    labelNames: ['kind'],
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800],
    registers,
  });
  const duration = new Histogram({
    name: 'likeness_job_duration_seconds',
    help: 'From the first GPU attempt to the outcome (retries included), per delivered job (observed by this process).',
    labelNames: ['kind', 'outcome'],
    buckets: [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
    registers,
  });
  const deliveryFailures = new Counter({
    name: 'likeness_delivery_failures_total',
    help: 'Delivery attempts that failed in this process, by platform and event (each is retried with backoff).',
    labelNames: ['platform', 'event'],
    registers,
  });

  const undeliverable = new Counter({
    name: 'likeness_deliveries_undeliverable_total',
    help: 'Outcomes that could never reach their chat (blocked, removed, no right to post, attempts spent), by platform: refunded, recorded and told where possible.',
    labelNames: ['platform'],
    registers,
  });

  const deliveryObserver: Required<DeliveryObserver> = {
    jobDelivered(job) {
      if (job.queueWaitSeconds !== undefined) queueWait.observe({ kind: job.kind }, job.queueWaitSeconds);
      if (job.runSeconds !== undefined) duration.observe({ kind: job.kind, outcome: job.outcome }, job.runSeconds);
    },
    deliveryFailed({ platform, event }) {
      deliveryFailures.inc({ platform, event });
    },
    jobUndeliverable({ platform }) {
      undeliverable.inc({ platform });
    },
  };

  const route: RouteHandler = async (_req, res) => {
    const mine = load();
    scrapeSnapshot = mine;
    let body: string;
    try {
      body = await registry.metrics();
    } finally {
      if (scrapeSnapshot === mine) scrapeSnapshot = undefined;
    }
    res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(body);
  };

  return { registry, deliveryObserver, route };
}
