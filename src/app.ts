import { createCommandLayer, type CommandLayer } from './bots/core/command-layer.js';
import type { FaceCheck } from './bots/core/context.js';
import type { ChatPort } from './bots/core/deliverer.js';
import { createRedisHeldRequests, type HeldRequests } from './bots/core/held-requests.js';
import { createIntakeGate, type IntakeGate } from './bots/core/intake-gate.js';
import { createRedisIntakeLimit } from './bots/core/intake-limit.js';
import { deliverJobEvent, deliveryGivenUp, type DeliveryObserver, type JobDeliveryDeps } from './bots/core/job-delivery.js';
import type { Repositories } from './bots/core/repositories.js';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/client.js';
import { createRepositories } from './db/core-repositories.js';
import type { GpuBackend } from './gpu/backend.js';
import { createGpuBackend } from './gpu/create-backend.js';
import { createStyleCatalog, type StyleCatalog } from './gpu/styles.js';
import { createDeliveryQueue, type DeliveryQueue } from './jobs/delivery-queue.js';
import { createGpuQueue, type GpuQueue } from './jobs/gpu-queue.js';
import { startMaintenance, type Maintenance } from './jobs/maintenance-queue.js';
import { listenForCancels } from './jobs/gpu-cancel.js';
import { reconcileJobs } from './jobs/reconcile.js';
import { createProducerConnection, createWorkerConnection } from './jobs/redis.js';
import { runRetention } from './jobs/retention.js';
import { startDeliveryWorker, startGpuWorker, type QueueWorker } from './jobs/workers.js';
import type { Logger } from './logger.js';
import type { ArtifactStore } from './storage/artifact-store.js';
import { createStore } from './storage/create-store.js';

/** Everything a process runs on, built from config. Workers start only when asked for. */
export interface App {
  config: Config;
  logger: Logger;
  database: Database;
  store: ArtifactStore;
  styles: StyleCatalog;
  gpuQueue: GpuQueue;
  deliveryQueue: DeliveryQueue;
  /** The command layer's repositories, on this app's database. */
  repos: Repositories;
  commands: CommandLayer;
  /** Photo requests waiting behind the terms card, shared by every process (Redis). */
  heldRequests: HeldRequests;
  /** This process's intake: acknowledgements first, photo work a few at a time, for every front-end. */
  intake: IntakeGate;
  /** Starts a `gpu` worker on `backend` (default: the configured one). */
  startGpuWorker(backend?: GpuBackend): QueueWorker;
  /** Starts the `delivery` worker for the given platforms' chats; `observer` sees each delivered job (metrics). */
  startDeliveryWorker(chats: ReadonlyMap<string, ChatPort>, observer?: DeliveryObserver): QueueWorker;
  /**
   * Schedules maintenance (retention: stored pixels past INPUT/OUTPUT_RETENTION_DAYS, files of forgotten
   * jobs) and starts its worker. Safe in every process: one run per tick across all of them.
   */
  startMaintenance(options?: { everyMs?: number }): Promise<void>;
  /** Lets running jobs finish (up to the lock time), then closes workers, queues and connections. */
  close(): Promise<void>;
}

export interface AppOverrides {
  store?: ArtifactStore;
  now?: () => Date;
  faceCheck?: FaceCheck;
}

/** How often a GPU worker process looks for jobs the queue lost, and how quiet a job must be to count. */
const RECONCILE_EVERY_MS = 60_000;
const RECONCILE_AFTER_MS = 120_000;
/** How often retention runs. */
const MAINTENANCE_EVERY_MS = 60 * 60 * 1000;

export function createApp(config: Config, logger: Logger, overrides: AppOverrides = {}): App {
  const database = openDatabase(config.databaseUrl, { max: 20 });
  const store = overrides.store ?? createStore(config);
  const styles = createStyleCatalog(config.gpu.stylesFile);
  const producer = createProducerConnection(config.redisUrl);
  producer.on('error', (error) => logger.warn({ err: error }, 'redis (producer) connection error'));
  const gpuQueue = createGpuQueue({ connection: producer, prefix: config.queuePrefix, attempts: config.gpu.attempts, backoffMs: config.gpu.retryBackoffMs });
  const deliveryQueue = createDeliveryQueue({ connection: producer, prefix: config.queuePrefix });
  gpuQueue.queue.on('error', (error) => logger.warn({ err: error }, 'gpu queue error'));
  deliveryQueue.queue.on('error', (error) => logger.warn({ err: error }, 'delivery queue error'));
  const repos = createRepositories(database.db, { tombstoneKey: config.tombstoneKey });
  const intakeLimit = createRedisIntakeLimit(producer, `${config.queuePrefix}:intake`, config.photos.requestsPer10Min);
  const commands = createCommandLayer({ repos, store, gpuQueue, styles, config, logger, now: overrides.now, faceCheck: overrides.faceCheck, intakeLimit });
  const heldRequests = createRedisHeldRequests(producer, `${config.queuePrefix}:held`);
  const intake = createIntakeGate({ maxWaiting: config.photos.maxWaiting });

  const workers: QueueWorker[] = [];
  let reconciler: NodeJS.Timeout | undefined;
  let maintenance: Promise<Maintenance> | undefined;
  const workerConnections: Array<{ quit(): Promise<unknown>; disconnect(): void }> = [];
  const workerOptions = (concurrency: number) => {
    const connection = createWorkerConnection(config.redisUrl);
    workerConnections.push(connection);
    return { connection, prefix: config.queuePrefix, concurrency, lockMs: config.gpu.lockMs, logger };
  };

  return {
    config,
    logger,
    database,
    store,
    styles,
    gpuQueue,
    deliveryQueue,
    repos,
    commands,
    heldRequests,
    intake,
    startGpuWorker(backend = createGpuBackend(config.gpu, { logger })) {
      if (!reconciler) {
        const reconcile = () => reconcileJobs({ db: database.db, gpuQueue, delivery: deliveryQueue, logger }, RECONCILE_AFTER_MS).catch((error: unknown) => logger.warn({ err: error }, 'reconcile failed'));
        reconciler = setInterval(() => void reconcile(), RECONCILE_EVERY_MS).unref();
      }
      const worker = startGpuWorker(workerOptions(config.gpu.concurrency), {
        db: database.db,
        store,
        backend,
        styles,
        delivery: deliveryQueue,
        logger,
        markOutputs: config.markOutputs,
        likeness: config.likeness,
      });
      workers.push(worker);
      // /cancel of a running job reaches whichever process runs it.
      const subscriber = createWorkerConnection(config.redisUrl);
      workerConnections.push(subscriber);
      listenForCancels(subscriber, config.queuePrefix, (jobId) => {
        if (worker.cancelJob(jobId, 'cancelled by the requester')) logger.info({ jobId }, 'running gpu job cancelled');
      }).catch((error: unknown) => logger.warn({ err: error }, 'could not listen for cancellations'));
      return worker;
    },
    startDeliveryWorker(chats, observer) {
      const deliveryDeps: JobDeliveryDeps = { repos, styles, chats, logger, observer };
      const worker = startDeliveryWorker(workerOptions(16), {
        db: database.db,
        deliver: (data) => deliverJobEvent(deliveryDeps, data),
        givenUp: (data, error) => deliveryGivenUp(deliveryDeps, data.jobId, error),
      });
      workers.push(worker);
      return worker;
    },
    async startMaintenance(options = {}) {
      maintenance ??= startMaintenance({
        connection: producer,
        workerConnection: workerOptions(1).connection,
        prefix: config.queuePrefix,
        everyMs: options.everyMs ?? MAINTENANCE_EVERY_MS,
        lockMs: config.gpu.lockMs,
        logger,
        runRetention: () => runRetention({ db: database.db, store, retention: config.retention, logger }),
      });
      await maintenance;
    },
    async close() {
      clearInterval(reconciler);
      await Promise.all([...workers.map((w) => w.close()), maintenance?.then((m) => m.close(), () => undefined)]);
      await Promise.all([gpuQueue.close(), deliveryQueue.close()]);
      await Promise.all([...workerConnections, producer].map((c) => c.quit().catch(() => c.disconnect())));
      await database.close();
      if (!overrides.store) store.close?.();
    },
  };
}
