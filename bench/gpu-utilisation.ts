/**
 * GPU utilisation on self-hosted Cog: K fake Cog endpoints with a fixed service time (in a process
 * of their own, as real GPU machines would be), the whole app
 * in between (chat request → gpu queue → GPU worker with the cog backend → store → delivery), and a
 * steady stream of restore jobs (one prediction each) arriving faster than the endpoints can serve.
 * Figure of merit: achieved jobs/s over the ideal K / service time; target ≥ 0.95 at K = 4.
 *
 *   import { benchGpuUtilisation, printGpuUtilisation } from './gpu-utilisation.js';
 *   printGpuUtilisation(await benchGpuUtilisation());
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import sharp from 'sharp';
import { createApp } from '../src/app.js';
import type { ChatPort } from '../src/bots/core/deliverer.js';
import type { Reply } from '../src/bots/core/reply.js';
import type { PhotoSource, Request } from '../src/bots/core/request.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import type { CogChildReply, CogChildRequest } from './fake-cog.child.js';
import { clearQueuePrefix, createInfra, REDIS_URL, type BenchInfra } from './infra.js';
import { fmt, median, nowMs, table } from './stats.js';

export interface GpuUtilisationOptions {
  /** Endpoint counts to measure, one run each. */
  endpoints: number[];
  /** Fixed time each fake endpoint takes per prediction. */
  serviceMs: number;
  /** Arrivals per second, as a multiple of the ideal throughput: above 1 keeps every endpoint fed. */
  overload: number;
  /** Warm-up at full load, then the measured window. */
  rampMs: number;
  windowMs: number;
  /** GPU jobs one worker runs at once, per endpoint (GPU_CONCURRENCY = this × K). */
  concurrencyPerEndpoint: number;
}

export const DEFAULT_GPU_UTILISATION: GpuUtilisationOptions = {
  endpoints: [1, 2, 4, 8],
  serviceMs: 250,
  overload: 1.25,
  rampMs: 1_500,
  windowMs: 8_000,
  concurrencyPerEndpoint: 2,
};

/** A shorter smoke run. */
export const QUICK_GPU_UTILISATION: GpuUtilisationOptions = { ...DEFAULT_GPU_UTILISATION, endpoints: [4], rampMs: 800, windowMs: 3_000 };

export const GPU_UTILISATION_TARGET = { endpoints: 4, minRatio: 0.95 };

export interface GpuUtilisationRow {
  endpoints: number;
  serviceMs: number;
  gpuConcurrency: number;
  /** K / service time. */
  idealJobsPerSec: number;
  /** Jobs finished (final message delivered) inside the window, per second. */
  jobsPerSec: number;
  ratio: number;
  /** Share of the window the endpoints spent running predictions (from the fakes' own clocks). */
  busyFraction: number;
  /** Gap between one prediction ending and the next starting on the same endpoint, in the window. */
  handoffP50Ms: number;
  handoffMeanMs: number;
  submitted: number;
  completedInWindow: number;
  errors: number;
  firstError?: string;
}

export interface GpuUtilisationResult {
  options: GpuUtilisationOptions;
  rows: GpuUtilisationRow[];
  target: { endpoints: number; minRatio: number; ratio?: number; met: boolean };
}

async function benchPhoto(): Promise<Buffer> {
  return sharp({ create: { width: 96, height: 120, channels: 3, background: { r: 140, g: 120, b: 100 } } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

const photoSource = (bytes: Buffer): PhotoSource => ({ label: 'photo.jpg', declaredBytes: bytes.byteLength, read: async () => bytes });

/** Busy ms of `intervals` inside [from, to]. */
const overlap = (intervals: Array<[number, number]>, from: number, to: number) => intervals.reduce((sum, [a, b]) => sum + Math.max(0, Math.min(b, to) - Math.max(a, from)), 0);

/** K fake Cog containers in a child process, and a typed request/reply over IPC. */
async function fakeCogProcess(endpoints: number, serviceMs: number) {
  const child = fork(new URL('./fake-cog.child.ts', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = async <T extends CogChildReply['type']>(request: CogChildRequest, expect: T): Promise<Extract<CogChildReply, { type: T }>> => {
    const answer = once(child, 'message') as Promise<[CogChildReply]>;
    child.send(request);
    const [reply] = await answer;
    if (reply.type !== expect) throw new Error(`fake cog answered ${reply.type}, not ${expect}`);
    return reply as Extract<CogChildReply, { type: T }>;
  };
  const { urls } = await ask({ type: 'start', endpoints, serviceMs }, 'started');
  return {
    urls,
    intervals: async () => (await ask({ type: 'report' }, 'report')).intervals,
    async close() {
      const exited = once(child, 'exit');
      child.send({ type: 'close' });
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      child.kill();
    },
  };
}

/** This process's bench clock as epoch ms, the time base the child reports in. */
const epochMs = (t: number) => performance.timeOrigin + t;

async function runOne(infra: BenchInfra, k: number, options: GpuUtilisationOptions, photo: Buffer): Promise<GpuUtilisationRow> {
  const cogs = await fakeCogProcess(k, options.serviceMs);
  const queuePrefix = `${infra.queuePrefix}-k${k}`;
  const gpuConcurrency = options.concurrencyPerEndpoint * k;
  const config = loadConfig({
    DATABASE_URL: infra.databaseUrl,
    REDIS_URL,
    QUEUE_PREFIX: queuePrefix,
    DATA_DIR: infra.dataDir,
    GPU_BACKEND: 'cog',
    COG_ENDPOINTS: cogs.urls.join(','),
    GPU_CONCURRENCY: String(gpuConcurrency),
    MAX_ACTIVE_JOBS_PER_USER: '100000',
    PHOTO_REQUESTS_PER_10_MIN: '1000000',
    FREE_DAILY_CREDITS: '1000000',
    // The bench photo is a flat colour (no face to measure): the likeness gate is bench (f)'s business.
    LIKENESS_MIN: '0',
    LOG_LEVEL: 'silent',
  });
  const app = createApp(config, createLogger({ level: 'silent' }));
  const finals: Array<{ at: number; error: boolean; text: string }> = [];
  const final = (reply: Reply) => finals.push({ at: nowMs(), error: reply.tone === 'error', text: reply.text });
  const deliverer: ChatPort = {
    platform: 'telegram',
    status: {
      post: async (_conversation, reply, { stage }) => void (stage === 'outcome' && final(reply)),
      edit: async (_conversation, reply, { stage }) => (stage === 'outcome' && final(reply), true),
    },
    async postResults(_conversation, reply) {
      final(reply);
      return { privately: false };
    },
  };
  const users = Array.from({ length: 8 }, (_, i) => `gpu-bench-${k}-${i}`);
  let seq = 0;
  const request = (user: string, command: Request['command']): Request => ({
    platform: 'telegram',
    eventId: `${queuePrefix}-${++seq}`,
    user: { id: user, displayName: user },
    conversation: { platform: 'telegram', chatId: `chat-${user}`, messageId: `m-${seq}` },
    command,
    options: {},
    photos: command === 'restore' ? [photoSource(photo)] : undefined,
  });

  let submitted = 0;
  let submitErrors = 0;
  let firstError: string | undefined;
  try {
    for (const user of users) await app.commands.handle(request(user, 'consent'));
    app.startGpuWorker();
    app.startDeliveryWorker(new Map([['telegram', deliverer]]));

    const ideal = k / (options.serviceMs / 1000);
    const intervalMs = 1000 / (ideal * options.overload);
    const start = nowMs();
    const windowStart = start + options.rampMs;
    const windowEnd = windowStart + options.windowMs;
    const pending: Array<Promise<void>> = [];
    // Open loop: the i-th job is submitted at start + i × interval, whatever happened before.
    for (let i = 0; ; i++) {
      const due = start + i * intervalMs;
      if (due >= windowEnd) break;
      const wait = due - nowMs();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      submitted += 1;
      pending.push(
        app.commands.handle(request(users[i % users.length]!, 'restore')).then(
          (reply) => {
            if (reply.tone === 'error') {
              submitErrors += 1;
              firstError ??= reply.text;
            }
          },
          (error: unknown) => {
            submitErrors += 1;
            firstError ??= String(error);
          },
        ),
      );
    }
    // Past the window by one service time, so the predictions running at its end have been recorded.
    const rest = windowEnd + options.serviceMs + 50 - nowMs();
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    await Promise.all(pending);

    const inWindow = finals.filter((f) => f.at >= windowStart && f.at <= windowEnd);
    const failed = inWindow.filter((f) => f.error);
    const [from, to] = [epochMs(windowStart), epochMs(windowEnd)];
    const perEndpoint = await cogs.intervals();
    const busy = perEndpoint.reduce((sum, intervals) => sum + overlap(intervals, from, to), 0);
    const gaps = perEndpoint.flatMap((intervals) => {
      const spans = intervals.filter(([a]) => a >= from && a <= to).sort((x, y) => x[0] - y[0]);
      return spans.slice(1).map(([a], i) => a - spans[i]![1]);
    });
    // A count over the window is quantized by up to one prediction per endpoint (± service / window);
    // the endpoints' busy share beside it is exact.
    const jobsPerSec = (inWindow.length - failed.length) / (options.windowMs / 1000);
    return {
      endpoints: k,
      serviceMs: options.serviceMs,
      gpuConcurrency,
      idealJobsPerSec: ideal,
      jobsPerSec,
      ratio: jobsPerSec / ideal,
      busyFraction: busy / (k * options.windowMs),
      handoffP50Ms: median(gaps),
      handoffMeanMs: gaps.length > 0 ? gaps.reduce((a, b) => a + b, 0) / gaps.length : Number.NaN,
      submitted,
      completedInWindow: inWindow.length,
      errors: submitErrors + failed.length,
      firstError: firstError ?? failed[0]?.text,
    };
  } finally {
    await app.close();
    await cogs.close();
    await clearQueuePrefix(queuePrefix);
  }
}

/** Runs the utilisation bench for each K; makes (and drops) its own database, queues and data folder. */
export async function benchGpuUtilisation(options: GpuUtilisationOptions = DEFAULT_GPU_UTILISATION, infraOptions: { dataRoot?: string } = {}): Promise<GpuUtilisationResult> {
  const infra = await createInfra(infraOptions);
  try {
    const photo = await benchPhoto();
    const rows: GpuUtilisationRow[] = [];
    for (const k of options.endpoints) rows.push(await runOne(infra, k, options, photo));
    const at = rows.find((r) => r.endpoints === GPU_UTILISATION_TARGET.endpoints);
    return { options, rows, target: { ...GPU_UTILISATION_TARGET, ratio: at?.ratio, met: at !== undefined && at.ratio >= GPU_UTILISATION_TARGET.minRatio } };
  } finally {
    await infra.cleanup();
  }
}

/** Prints the figures as a plain-text table. */
export function printGpuUtilisation(result: GpuUtilisationResult): void {
  const { options } = result;
  const out: string[] = [];
  out.push(`(d) GPU utilisation: K fake Cog endpoints, ${options.serviceMs} ms per prediction, restore jobs arriving at ${options.overload}x the ideal rate`);
  out.push(`    whole app: request -> gpu queue -> GPU worker (cog backend, GPU_CONCURRENCY = ${options.concurrencyPerEndpoint} x K) -> store -> delivery; ${fmt(options.windowMs / 1000, 1)} s window after ${fmt(options.rampMs / 1000, 1)} s warm-up`);
  out.push('');
  out.push(
    table([
      ['K', 'ideal jobs/s', 'achieved jobs/s', 'achieved / ideal', 'endpoint busy', 'hand-off p50 / mean ms', 'jobs in window', 'errors', ''],
      ...result.rows.map((r) => [
        String(r.endpoints),
        fmt(r.idealJobsPerSec, 1),
        fmt(r.jobsPerSec, 1),
        fmt(r.ratio, 3),
        `${fmt(100 * r.busyFraction, 1)}%`,
        `${fmt(r.handoffP50Ms, 1)} / ${fmt(r.handoffMeanMs, 1)}`,
        String(r.completedInWindow),
        String(r.errors),
        r.endpoints === result.target.endpoints ? `target >= ${result.target.minRatio}: ${r.ratio >= result.target.minRatio ? 'ok' : 'MISSED'}` : '',
      ]),
    ]),
  );
  for (const r of result.rows) if (r.firstError) out.push(`    K=${r.endpoints} first error: ${r.firstError}`);
  console.log(out.join('\n'));
}

// `tsx bench/gpu-utilisation.ts [--quick]` runs this section alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  benchGpuUtilisation(quick ? QUICK_GPU_UTILISATION : DEFAULT_GPU_UTILISATION).then(
    (result) => {
      printGpuUtilisation(result);
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
