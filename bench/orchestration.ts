/**
 * Section (a): what Likeness adds around a GPU job, beside a bare BullMQ round trip measured in the
 * same process, against the same Redis, a moment apart.
 */
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents, Worker, type Job as BullJob } from 'bullmq';
import pg from 'pg';
import sharp from 'sharp';
import { createApp, type App } from '../src/app.js';
import type { ChatPort } from '../src/bots/core/deliverer.js';
import type { Reply } from '../src/bots/core/reply.js';
import type { PhotoSource, Request } from '../src/bots/core/request.js';
import { loadConfig } from '../src/config.js';
import { findAccountByIdentity } from '../src/db/accounts.repository.js';
import { grantCredits } from '../src/db/ledger.repository.js';
import type { GpuBackend } from '../src/gpu/backend.js';
import { createInstantBackend } from '../src/gpu/instant.backend.js';
import { createProducerConnection, createWorkerConnection } from '../src/jobs/redis.js';
import { createLogger } from '../src/logger.js';
import type { BenchInfra } from './infra.js';
import { REDIS_URL, SERVER_URL } from './infra.js';
import {
  cpuBetween,
  cpuSample,
  startCounting,
  stopCounting,
  totalCount,
  totalMs,
  type CpuSpent,
  type ProbeSnapshot,
  type Tally,
} from './instrument.js';
import { mapLimit, median, nowMs, quantile, sum } from './stats.js';

export interface OrchestrationOptions {
  /** Sequential round trips measured (after warm-up), each side; a time budget may stop earlier. */
  sequentialJobs: number;
  sequentialBudgetMs: number;
  /** Requests kept in flight by the throughput driver (one per user on the Likeness side). */
  lanes: number;
  /** Worker concurrency of the bare worker and of the Likeness GPU worker (GPU_CONCURRENCY). */
  workerConcurrency: number;
  /** Throughput: warm-up at full load, then the measured window. */
  rampMs: number;
  windowMs: number;
  /** Jobs of the per-job census (query and command counts, CPU), run one at a time. */
  censusJobs: number;
}

export const DEFAULT_ORCHESTRATION: OrchestrationOptions = {
  sequentialJobs: 300,
  sequentialBudgetMs: 6_000,
  lanes: 200,
  workerConcurrency: 50,
  rampMs: 1_500,
  windowMs: 5_000,
  censusJobs: 25,
};

export interface Latency {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  max: number;
}

export interface Throughput {
  /** Completions inside the measured window. */
  jobs: number;
  windowS: number;
  jobsPerSec: number;
  lanes: number;
  /** Latency of the jobs that finished inside the window, under this load. */
  latency: Latency;
  errors: number;
  firstError?: string;
  /** Per completed job inside the window. */
  perJob: PerJob;
  cpu: CpuSpent;
}

export interface PerJob {
  pgQueries: number;
  redisTrips: number;
  redisCommands: number;
  redisBlocking: number;
  /** CPU ms per job: this process, the Postgres server, the Redis server. */
  nodeCpuMs: number;
  /** Postgres backends serving the bench database (the server is shared; see postgresServerCpuMs). */
  postgresCpuMs?: number;
  /** Every postgres process of the server, WAL writer and other users included. */
  postgresServerCpuMs?: number;
  redisCpuMs?: number;
}

export interface Phase {
  name: string;
  p50: number;
  mean: number;
  /** Not on the latency path (runs beside it or after the final message). */
  offPath?: boolean;
}

export interface Census {
  jobs: number;
  pgQueriesPerJob: number;
  pgWireMsPerJob: number;
  redisTripsPerJob: number;
  redisWireMsPerJob: number;
  /** Per-job counts by statement and by Redis command or BullMQ script. */
  pg: Array<{ label: string; perJob: number; msPerJob: number }>;
  redis: Array<{ label: string; perJob: number; msPerJob: number }>;
  /** Counts and CPU per job of the census (one job in the system at a time). */
  cpu: PerJob;
}

export interface OrchestrationResult {
  bare: { sequential: Latency; throughput: Throughput; notes: string[] };
  likeness: { sequential: Latency; throughput: Throughput; phases: Phase[]; census: Census; request: string; notes: string[] };
}

// ---------------------------------------------------------------------------------------------

function latencyOf(values: readonly number[]): Latency {
  return {
    n: values.length,
    p50: median(values),
    p90: quantile(values, 0.9),
    p99: quantile(values, 0.99),
    mean: values.length ? sum(values) / values.length : Number.NaN,
    max: values.length ? Math.max(...values) : Number.NaN,
  };
}

/** Waits keyed by id; a mark that comes before its wait is kept until asked for. */
class Signals {
  private readonly marked = new Map<string, number>();
  private readonly waiting = new Map<string, { resolve: (t: number) => void; timer: NodeJS.Timeout }>();

  mark(id: string): void {
    const t = nowMs();
    const w = this.waiting.get(id);
    if (w) {
      this.waiting.delete(id);
      clearTimeout(w.timer);
      w.resolve(t);
    } else this.marked.set(id, t);
  }

  wait(id: string, timeoutMs = 30_000): Promise<number> {
    const t = this.marked.get(id);
    if (t !== undefined) {
      this.marked.delete(id);
      return Promise.resolve(t);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no signal for ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve, timer });
    });
  }
}

interface Window {
  latencies: number[];
  errors: number;
  firstError?: string;
  probes: ProbeSnapshot;
  cpu: CpuSpent;
  windowMs: number;
}

/**
 * Closed loop: `lanes` clients each submit, wait for completion, and submit again. The first
 * `rampMs` warm up at full load; completions inside the next `windowMs` are counted, and the probes
 * and CPU are read at the window's edges. In-flight work is drained before returning.
 */
async function closedLoop(
  lanes: number,
  rampMs: number,
  windowMs: number,
  once: (lane: number) => Promise<void>,
  ownPids: () => Promise<Set<number>> = async () => new Set(),
): Promise<Window> {
  const start = nowMs();
  const windowStart = start + rampMs;
  const windowEnd = windowStart + windowMs;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let cpuStart = cpuSample();
  let cpuEnd = cpuStart;
  let probes: ProbeSnapshot | undefined;
  let pids = new Set<number>();
  // The backends are listed just before the window opens, when the pool is fully open.
  const opened = new Promise<void>((resolve, reject) =>
    setTimeout(() => {
      ownPids()
        .then((found) => {
          pids = found;
          cpuStart = cpuSample(pids);
          startCounting();
          resolve();
        })
        .catch(reject);
    }, Math.max(0, rampMs - 50)),
  );
  const closed = new Promise<void>((resolve) =>
    setTimeout(() => {
      cpuEnd = cpuSample(pids);
      probes = stopCounting();
      resolve();
    }, rampMs + windowMs),
  );
  const lane = async (index: number) => {
    while (nowMs() < windowEnd) {
      const t0 = nowMs();
      try {
        await once(index);
        const t1 = nowMs();
        if (t1 >= windowStart && t1 <= windowEnd) latencies.push(t1 - t0);
      } catch (error) {
        errors += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  await Promise.all([opened, closed, ...Array.from({ length: lanes }, (_, i) => lane(i))]);
  return { latencies, errors, firstError, probes: probes!, cpu: cpuBetween(cpuStart, cpuEnd), windowMs };
}

/** Per-job figures; `scale` corrects for probes read over a slightly different span than the jobs were counted. */
function perJob(probes: ProbeSnapshot, cpu: CpuSpent, jobs: number, scale = 1): PerJob {
  const per = (x: number) => (jobs > 0 ? (x * scale) / jobs : Number.NaN);
  const redisCommands = totalCount(probes.redis);
  return {
    pgQueries: per(totalCount(probes.pg)),
    redisTrips: per(probes.redisTrips),
    redisCommands: per(redisCommands - probes.redisBlocking),
    redisBlocking: per(probes.redisBlocking),
    nodeCpuMs: per(cpu.nodeMs),
    postgresCpuMs: cpu.postgresOwnMs === undefined ? undefined : per(cpu.postgresOwnMs),
    postgresServerCpuMs: cpu.postgresMs === undefined ? undefined : per(cpu.postgresMs),
    redisCpuMs: cpu.redisMs === undefined ? undefined : per(cpu.redisMs),
  };
}

function throughputOf(w: Window, lanes: number): Throughput {
  const jobs = w.latencies.length;
  return {
    jobs,
    windowS: w.windowMs / 1000,
    jobsPerSec: jobs / (w.windowMs / 1000),
    lanes,
    latency: latencyOf(w.latencies),
    errors: w.errors,
    firstError: w.firstError,
    perJob: perJob(w.probes, w.cpu, jobs, w.cpu.wallMs > 0 ? w.windowMs / w.cpu.wallMs : 1),
    cpu: w.cpu,
  };
}

/** Runs `once` one at a time: `warmup` unmeasured, then up to `jobs` measured or until the budget is spent. */
async function sequential(warmup: number, jobs: number, budgetMs: number, once: () => Promise<number>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await once();
  const out: number[] = [];
  const deadline = nowMs() + budgetMs;
  while (out.length < jobs && nowMs() < deadline) out.push(await once());
  return out;
}

const tallyRows = (map: Map<string, Tally>, jobs: number) =>
  [...map.entries()]
    .map(([label, t]) => ({ label, perJob: t.count / jobs, msPerJob: t.ms / jobs }))
    .sort((a, b) => b.perJob - a.perJob || a.label.localeCompare(b.label));

// ---------------------------------------------------------------------------------------------
// Bare BullMQ

export async function benchBare(infra: BenchInfra, options: OrchestrationOptions): Promise<OrchestrationResult['bare']> {
  const name = 'bare-roundtrip';
  const producer = createProducerConnection(REDIS_URL);
  const workerConnection = createWorkerConnection(REDIS_URL);
  const eventsConnection = createWorkerConnection(REDIS_URL);
  const queue = new Queue(name, {
    connection: producer,
    prefix: infra.queuePrefix,
    // The same job options as the app's gpu queue, so the scripts do the same bookkeeping.
    defaultJobOptions: { attempts: 3, backoff: { type: 'exponential', delay: 2_000 }, removeOnComplete: { age: 24 * 3600, count: 5_000 }, removeOnFail: { age: 7 * 24 * 3600, count: 10_000 } },
  });
  const worker = new Worker(name, async () => undefined, { connection: workerConnection, prefix: infra.queuePrefix, concurrency: options.workerConcurrency });
  const events = new QueueEvents(name, { connection: eventsConnection, prefix: infra.queuePrefix });
  const done = new Signals();
  events.on('completed', ({ jobId }) => done.mark(jobId));
  queue.on('error', () => undefined);
  worker.on('error', () => undefined);
  events.on('error', () => undefined);
  try {
    await Promise.all([queue.waitUntilReady(), worker.waitUntilReady(), events.waitUntilReady()]);
    const roundTrip = async (): Promise<number> => {
      const jobId = randomUUID();
      const t0 = nowMs();
      const finished = done.wait(jobId);
      await queue.add('noop', { jobId }, { jobId });
      return (await finished) - t0;
    };
    // Let QueueEvents start its XREAD before the first measured job.
    await new Promise((r) => setTimeout(r, 100));
    const seq = await sequential(50, options.sequentialJobs, options.sequentialBudgetMs, roundTrip);
    const loop = await closedLoop(options.lanes, options.rampMs, options.windowMs, async () => {
      await roundTrip();
    });
    return {
      sequential: latencyOf(seq),
      throughput: throughputOf(loop, options.lanes),
      notes: [
        `queue.add(jobId) -> Worker(no-op, concurrency ${options.workerConcurrency}) -> QueueEvents 'completed'; one process, 3 Redis connections`,
        'no priority (plain wait list); same attempts/backoff/removeOnComplete options as the gpu queue',
      ],
    };
  } finally {
    await worker.close();
    await events.close();
    await queue.close();
    await Promise.all([producer, workerConnection, eventsConnection].map((c) => c.quit().catch(() => c.disconnect())));
  }
}

// ---------------------------------------------------------------------------------------------
// Likeness

interface Trace {
  jobId?: string;
  t0: number;
  enqStart?: number;
  enqEnd?: number;
  reply?: number;
  gpuActive?: number;
  backendStart?: number;
  backendEnd?: number;
  notifyStart?: number;
  notifyEnd?: number;
  gpuDone?: number;
  deliveryActive?: number;
  final?: number;
  deliveryDone?: number;
}

const PHASES: Array<{ name: string; from: keyof Trace; to: keyof Trace; offPath?: boolean }> = [
  { name: 'handle(): account, checks, photo, store, job+reserve tx', from: 't0', to: 'enqStart' },
  { name: 'handle(): gpu queue.add', from: 'enqStart', to: 'enqEnd' },
  { name: 'handle(): reply after enqueue (position, estimate)', from: 'enqEnd', to: 'reply', offPath: true },
  { name: 'gpu queue hop (add done -> worker active)', from: 'enqEnd', to: 'gpuActive' },
  { name: 'gpu: claim, read inputs', from: 'gpuActive', to: 'backendStart' },
  { name: 'gpu: backend.run (instant)', from: 'backendStart', to: 'backendEnd' },
  { name: 'gpu: store 4 outputs, imageInfo, completeJob', from: 'backendEnd', to: 'notifyStart' },
  { name: 'gpu: notify(succeeded) queue.add', from: 'notifyStart', to: 'notifyEnd' },
  { name: 'delivery queue hop (add done -> worker active)', from: 'notifyEnd', to: 'deliveryActive' },
  { name: 'delivery: job + results, reply -> deliver()', from: 'deliveryActive', to: 'final' },
  { name: 'TOTAL handle() -> final deliver()', from: 't0', to: 'final' },
  { name: 'gpu: moveToCompleted after notify', from: 'notifyEnd', to: 'gpuDone', offPath: true },
  { name: 'delivery after deliver(): markDelivered, move', from: 'final', to: 'deliveryDone', offPath: true },
];

async function tinyPhoto(): Promise<Buffer> {
  const width = 64;
  const height = 80;
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = (x * 4) & 255;
      raw[i + 1] = (y * 3) & 255;
      raw[i + 2] = ((x + y) * 2) & 255;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}

const photoSource = (bytes: Buffer): PhotoSource => ({ label: 'photo.jpg', declaredBytes: bytes.byteLength, read: async () => bytes });

export async function benchLikeness(infra: BenchInfra, options: OrchestrationOptions): Promise<OrchestrationResult['likeness']> {
  const config = loadConfig({
    DATABASE_URL: infra.databaseUrl,
    REDIS_URL,
    QUEUE_PREFIX: infra.queuePrefix,
    DATA_DIR: infra.dataDir,
    GPU_BACKEND: 'instant',
    INSTANT_BACKEND_DELAY_MS: '0',
    GPU_CONCURRENCY: String(options.workerConcurrency),
    MAX_ACTIVE_JOBS_PER_USER: '1000',
    // The scenarios are about faults, not the per-person photo limit (unit- and integration-tested).
    PHOTO_REQUESTS_PER_10_MIN: '1000000',
    LOG_LEVEL: 'silent',
  });
  // The face check (tens of ms of BlazeFace per photo) is image work, measured in section (c);
  // here every photo counts as one face, so the figures are the orchestration's own.
  const app: App = createApp(config, createLogger({ level: 'silent' }), { faceCheck: async (photos) => photos.map((_, i) => ({ photo: i + 1, faces: 1 })) });
  // A side connection (to another database) that lists the backends serving the bench database.
  const admin = new pg.Client({ connectionString: `${SERVER_URL}/postgres` });
  await admin.connect();
  const ownPids = async () => {
    const { rows } = await admin.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [infra.databaseName]);
    return new Set(rows.map((r) => r.pid));
  };
  const photo = await tinyPhoto();
  const users = Array.from({ length: options.lanes }, (_, i) => `bench-user-${i}`);
  let eventSeq = 0;
  const request = (user: string, command: Request['command'] = 'portrait'): Request => ({
    platform: 'telegram',
    eventId: `bench-${infra.runId}-${++eventSeq}`,
    user: { id: user, displayName: user },
    conversation: { platform: 'telegram', chatId: `chat-${user}`, messageId: `m-${eventSeq}` },
    command,
    options: {},
    photos: command === 'portrait' ? [photoSource(photo)] : undefined,
  });

  // Probes on the job's path. `trace` is only set during the sequential run (one job at a time).
  let trace: Trace | undefined;
  const finals = new Signals();
  const deliveriesDone = new Signals();
  const instant = createInstantBackend({ delayMs: 0 });
  const backend: GpuBackend = {
    name: instant.name,
    async run(task, signal) {
      if (trace) trace.backendStart = nowMs();
      const out = await instant.run(task, signal);
      if (trace) trace.backendEnd = nowMs();
      return out;
    },
  };
  const enqueue = app.gpuQueue.enqueue.bind(app.gpuQueue);
  app.gpuQueue.enqueue = async (kind, jobId) => {
    if (trace) {
      trace.jobId = jobId;
      trace.enqStart = nowMs();
    }
    const position = await enqueue(kind, jobId);
    if (trace) trace.enqEnd = nowMs();
    return position;
  };
  const notify = app.deliveryQueue.notify.bind(app.deliveryQueue);
  app.deliveryQueue.notify = async (data) => {
    const tracked = trace && data.event === 'succeeded';
    if (tracked) trace!.notifyStart = nowMs();
    await notify(data);
    if (tracked && trace) trace.notifyEnd = nowMs();
  };
  let messageSeq = 0;
  const final = (jobId: string | undefined) => {
    if (!jobId) return;
    if (trace?.jobId === jobId) trace.final = nowMs();
    finals.mark(jobId);
  };
  const deliverer: ChatPort = {
    platform: 'telegram',
    status: {
      post: async (_conversation, _reply, { stage, jobId }) => void (stage === 'outcome' && final(jobId)),
      edit: async (_conversation, _reply, { stage, jobId }) => (stage === 'outcome' && final(jobId), true),
    },
    async postResults(_conversation, reply: Reply, jobId, shown) {
      for (const index of (reply.images ?? []).keys()) await shown(index, `msg-${++messageSeq}`);
      final(jobId);
      return { privately: false };
    },
  };
  const gpuWorker = workerEvents(app.startGpuWorker(backend));
  const deliveryWorker = workerEvents(app.startDeliveryWorker(new Map([['telegram', deliverer]])));
  gpuWorker?.on('active', (job: BullJob) => {
    if (trace && job.id === trace.jobId) trace.gpuActive = nowMs();
  });
  gpuWorker?.on('completed', (job: BullJob) => {
    if (trace && job.id === trace.jobId) trace.gpuDone = nowMs();
  });
  const isSucceeded = (job: BullJob) => job.name === 'succeeded' && typeof job.data?.jobId === 'string';
  deliveryWorker?.on('active', (job: BullJob) => {
    if (trace && isSucceeded(job) && job.data.jobId === trace.jobId) trace.deliveryActive = nowMs();
  });
  deliveryWorker?.on('completed', (job: BullJob) => {
    if (!isSucceeded(job)) return;
    if (trace && job.data.jobId === trace.jobId) trace.deliveryDone = nowMs();
    deliveriesDone.mark(job.data.jobId as string);
  });
  /** Waits for the delivery job's own end (its writes after deliver()), when the worker's events can be seen. */
  const deliveryDone = (jobId: string) => (deliveryWorker ? deliveriesDone.wait(jobId) : Promise.resolve(nowMs()));

  /** One portrait request end to end; resolves with handle() -> final deliver() in ms. */
  const portrait = async (user: string, waitDelivery = false): Promise<number> => {
    const t0 = nowMs();
    const reply = await app.commands.handle(request(user));
    const jobId = reply.job?.id;
    if (!jobId) throw new Error(`request refused: ${reply.code ?? ''} ${reply.text}`);
    const t = await finals.wait(jobId);
    if (waitDelivery) await deliveryDone(jobId);
    return t - t0;
  };

  try {
    // Accounts: consent and plenty of paid credits for every bench user.
    await mapLimit(users, 16, async (user) => {
      const consent = await app.commands.handle(request(user, 'consent'));
      if (consent.tone === 'error') throw new Error(`consent failed: ${consent.text}`);
      const account = await findAccountByIdentity(app.database.db, { platform: 'telegram', userId: user });
      await grantCredits(app.database.db, account!.id, 1_000_000, 'bench');
    });

    // Sequential: one job in the system at a time (the next starts once the last delivery job is done).
    // Latency ends at the final deliver() call; waiting for the delivery job's own end keeps its
    // writes after deliver() out of the next job's time.
    const traces: Trace[] = [];
    // Users take turns, as in a chat with many people (one heavy user would also grow its ledger sum).
    let turn = 0;
    const traced = async (): Promise<number> => {
      trace = { t0: nowMs() };
      const current = trace;
      const r = await app.commands.handle(request(users[turn++ % users.length]!));
      current.reply = nowMs();
      const jobId = r.job?.id;
      if (!jobId) throw new Error(`request refused: ${r.code ?? ''} ${r.text}`);
      await finals.wait(jobId);
      await deliveryDone(jobId);
      trace = undefined;
      traces.push(current);
      return current.final! - current.t0;
    };
    for (let i = 0; i < 30; i++) await traced();
    traces.length = 0;
    const seq = await sequential(0, options.sequentialJobs, options.sequentialBudgetMs, traced);

    // Census: queries and commands per job, and CPU per job, one job at a time (not in the latency figures).
    const censusPids = await ownPids();
    const cpuBefore = cpuSample(censusPids);
    startCounting();
    for (let i = 0; i < options.censusJobs; i++) await portrait(users[turn++ % users.length]!, true);
    const probes = stopCounting();
    const cpu = cpuBetween(cpuBefore, cpuSample(censusPids));
    const jobs = options.censusJobs;
    const census: Census = {
      jobs,
      pgQueriesPerJob: totalCount(probes.pg) / jobs,
      pgWireMsPerJob: totalMs(probes.pg) / jobs,
      redisTripsPerJob: probes.redisTrips / jobs,
      redisWireMsPerJob: (totalMs(probes.redis) - blockingMs(probes.redis)) / jobs,
      pg: tallyRows(probes.pg, jobs),
      redis: tallyRows(probes.redis, jobs),
      cpu: perJob(probes, cpu, jobs),
    };

    const phases: Phase[] = PHASES.map((p) => {
      const mark = (t: Trace, key: keyof Trace) => (t[key] as number | undefined) ?? Number.NaN; // missing marks drop out
      const spans = traces.map((t) => mark(t, p.to) - mark(t, p.from)).filter(Number.isFinite);
      return { name: p.name, p50: median(spans), mean: spans.length ? sum(spans) / spans.length : Number.NaN, offPath: p.offPath };
    });

    // Throughput: one lane per user, each with one request in flight.
    const loop = await closedLoop(
      options.lanes,
      options.rampMs,
      options.windowMs,
      async (lane) => {
        await portrait(users[lane]!);
      },
      ownPids,
    );
    return {
      sequential: latencyOf(seq),
      throughput: throughputOf(loop, options.lanes),
      phases,
      census,
      request: `telegram /portrait (default style, 4 variants), 1 photo: ${photo.byteLength} B 64x80 JPEG`,
      notes: [
        `all-in-one process: command layer + gpu worker (instant backend, delay 0, concurrency ${options.workerConcurrency}) + delivery worker (concurrency 16, fixed in app.ts); pg pool max 20`,
        `throughput: ${options.lanes} users, one request in flight each (MAX_ACTIVE_JOBS_PER_USER=1000, paid credits granted)`,
        `fs artifact store in ${infra.dataDir}`,
        'face check replaced by "one face per photo": BlazeFace is image work, timed in section (c)',
      ],
    };
  } finally {
    trace = undefined;
    await app.close();
    await admin.end();
  }
}

/**
 * The app hands out workers as `QueueWorker` (close/name/isRunning); the object behind it is a BullMQ
 * Worker, an EventEmitter. The bench listens to its job events for the phase breakdown when it can,
 * and does without them otherwise.
 */
function workerEvents(worker: object): Pick<Worker, 'on'> | undefined {
  const candidate = worker as Partial<Pick<Worker, 'on'>>;
  return typeof candidate.on === 'function' ? (worker as Pick<Worker, 'on'>) : undefined;
}

const BLOCKING_LABELS = new Set(['bzpopmin', 'bzpopmax', 'brpoplpush', 'blmove', 'brpop', 'blpop', 'xread', 'xreadgroup']);
const blockingMs = (map: Map<string, Tally>) => [...map.entries()].filter(([k]) => BLOCKING_LABELS.has(k)).reduce((s, [, t]) => s + t.ms, 0);

export async function benchOrchestration(infra: BenchInfra, options: OrchestrationOptions = DEFAULT_ORCHESTRATION): Promise<OrchestrationResult> {
  const bare = await benchBare(infra, options);
  const likeness = await benchLikeness(infra, options);
  return { bare, likeness };
}
