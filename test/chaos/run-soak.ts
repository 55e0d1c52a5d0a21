/**
 * `npm run soak [-- --jobs 100000] [-- --warmup 6000] [-- --lanes 100] [-- --keep]`: the real
 * `likeness serve` and `likeness worker` processes (instant GPU backend) on their own Redis and
 * Postgres, fed portrait requests through the command layer, `lanes` at a time, each waiting for
 * its album. A warm-up first fills the queues' completed-job retention (5,000 each), so the
 * measured run starts at steady state. Passes when every job was delivered once and charged once,
 * no process's memory grew more than 10 % over the measured run, and Redis holds as many keys at
 * the end as at its start.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { prepareDatabase } from '../../src/db/client.js';
import { resizeToLongEdge } from '../../src/images/index.js';
import { createLogger } from '../../src/logger.js';
import { quantile } from './audit.js';
import { startCountingTelegram } from './counting-telegram.js';
import { startInfra } from './infra.js';
import { createLoad, userIds } from './load.js';
import { stackProcess, type StackProcess } from './stack.js';

const MAX_GROWTH = 0.1;

/** Resident memory of a process in bytes (Linux), or undefined when it is gone. */
async function rssOf(pid: number | undefined): Promise<number | undefined> {
  if (!pid) return undefined;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : undefined;
}

/** Pure: a key with its ids taken out, so keys can be counted by kind. */
export const keyKind = (key: string): string =>
  key.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>').replace(/\d+/g, '<n>');

/** Keys that live at most this long are housekeeping (locks, stalled checks), not what a job left behind. */
const TRANSIENT_TTL_MS = 60_000;

/** Keys by kind; keys about to expire by themselves are counted apart. */
async function keyCensus(redis: Redis): Promise<{ total: number; transient: number; byKind: Map<string, number> }> {
  const byKind = new Map<string, number>();
  let cursor = '0';
  let total = 0;
  let transient = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 5_000);
    cursor = next;
    const ttls = (await keys.reduce((pipe, key) => pipe.pttl(key), redis.pipeline()).exec()) ?? [];
    keys.forEach((key, i) => {
      const ttl = Number(ttls[i]?.[1] ?? -1);
      if (ttl >= 0 && ttl <= TRANSIENT_TTL_MS) {
        transient += 1;
        return;
      }
      total += 1;
      byKind.set(keyKind(key), (byKind.get(keyKind(key)) ?? 0) + 1);
    });
  } while (cursor !== '0');
  return { total, transient, byKind };
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string', default: '100000' },
      warmup: { type: 'string', default: '6000' },
      lanes: { type: 'string', default: '100' },
      keep: { type: 'boolean', default: false },
    },
  });
  const jobs = Number(values.jobs);
  const warmup = Number(values.warmup);
  const lanes = Number(values.lanes);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  // Everysec: the soak measures steady state, not crash safety (the chaos run does that).
  const infra = await startInfra('soak', { fsync: 'everysec' });
  const telegram = await startCountingTelegram();
  const processes: StackProcess[] = [];
  let app: ReturnType<typeof createApp> | undefined;
  const redis = new Redis(infra.redis.url);
  try {
    const databaseUrl = `${infra.postgres.serverUrl}/likeness`;
    await prepareDatabase(databaseUrl);
    const env: Record<string, string> = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: infra.redis.url,
      QUEUE_PREFIX: 'soak',
      DATA_DIR: join(infra.root, 'data'),
      GPU_BACKEND: 'instant',
      GPU_CONCURRENCY: '50',
      HTTP_PORT: '0',
      OPS_PORT: '0',
      // Info, not less: the runner knows a process is up from its "likeness started" line.
      LOG_LEVEL: 'info',
      FREE_DAILY_CREDITS: '100000000',
      MAX_ACTIVE_JOBS_PER_USER: '100000',
      PHOTO_REQUESTS_PER_10_MIN: '1000000',
      INTAKE_MAX_WAITING: '100000',
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_ROOT: telegram.url,
    };
    const logDir = join(infra.root, 'logs');
    await import('node:fs/promises').then((fs) => fs.mkdir(logDir, { recursive: true }));
    processes.push(stackProcess('serve', 'serve', env, logDir), stackProcess('worker', 'worker', env, logDir));
    await Promise.all(processes.map((p) => p.start()));
    const config = loadConfig({ ...env, LOG_LEVEL: 'warn' });
    app = createApp(config, createLogger({ level: 'warn', destination: pino.destination({ dest: join(logDir, 'runner.log'), sync: false }) }), {
      faceCheck: async (photos) => photos.map((_, i) => ({ photo: i + 1, faces: 1 })),
    });
    const photo = await resizeToLongEdge(await readFile(new URL('../../samples/astronaut.jpg', import.meta.url)), 160);
    const load = createLoad(app, { photo, runId: 'soak' });
    const users = userIds(100_000, 500);
    await load.consent(users);
    log(`soak: ${warmup} warm-up jobs, then ${jobs} measured, ${lanes} in flight; Redis ${infra.redis.url}, Postgres ${infra.postgres.serverUrl}`);

    let refused = 0;
    let timedOut = 0;
    const run = async (count: number, onProgress: (done: number) => void) => {
      let issued = 0;
      let done = 0;
      await Promise.all(
        Array.from({ length: lanes }, async (_, lane) => {
          while (issued < count) {
            issued += 1;
            const record = await load.submit(users[(lane + issued) % users.length]!);
            if (!record.jobId) refused += 1;
            else {
              const arrived = await Promise.race([telegram.album(record.chatId).then(() => true), sleep(120_000).then(() => false)]);
              if (!arrived) timedOut += 1;
            }
            done += 1;
            if (done % 1_000 === 0) onProgress(done);
          }
        }),
      );
    };
    const drain = async () => {
      for (let i = 0; i < 600; i++) {
        const { rows } = await app!.database.pool.query(`select count(*)::int as n from jobs where status in ('queued', 'running') or (status = 'succeeded' and delivered_at is null)`);
        if (rows[0].n === 0) return;
        await sleep(100);
      }
    };

    const t0 = Date.now();
    await run(warmup, (n) => n % 2_000 === 0 && log(`  warm-up ${n}/${warmup}`));
    await drain();
    await sleep(2_000);
    const warmMs = Date.now() - t0;
    const before = await keyCensus(redis);
    const samples: Array<{ at: number; rss: Array<number | undefined> }> = [];
    const sample = async () => samples.push({ at: Date.now(), rss: await Promise.all(processes.map((p) => rssOf(p.pid))) });
    await sample();
    const sampler = setInterval(() => void sample(), 2_000);
    const t1 = Date.now();
    await run(jobs, (n) => {
      if (n % 5_000 === 0) {
        const rss = samples.at(-1)?.rss.map((r, i) => `${processes[i]!.name} ${r ? mb(r) : '-'}`).join(', ');
        log(`  ${n}/${jobs} (${((n / (Date.now() - t1)) * 1000).toFixed(0)} jobs/s; ${rss})`);
      }
    });
    const measuredMs = Date.now() - t1;
    clearInterval(sampler);
    await drain();
    await sleep(2_000);
    await sample();
    const after = await keyCensus(redis);

    // Money and delivery, from Postgres and from what the platform received.
    const { rows } = await app.database.pool.query(`
      select count(*)::int as jobs,
             count(*) filter (where j.status = 'succeeded')::int as succeeded,
             count(*) filter (where j.status = 'succeeded' and (coalesce(l.net, 0) <> -j.price or l.commits = 0))::int as wrong_charge,
             count(*) filter (where j.status <> 'succeeded' and coalesce(l.net, 0) <> 0)::int as kept_after_failure
      from jobs j left join (select job_id, sum(delta) as net, count(*) filter (where reason = 'commit') as commits from credit_ledger group by job_id) l on l.job_id = j.id`);
    const money = rows[0] as { jobs: number; succeeded: number; wrong_charge: number; kept_after_failure: number };
    const accepted = load.records.filter((r) => r.jobId);
    const lost = accepted.filter((r) => !telegram.albums.get(r.chatId)).length;
    const doubled = accepted.filter((r) => (telegram.albums.get(r.chatId) ?? 0) > 1).length;

    // Memory: the first tenth of the measured run against the last tenth, per process.
    const tenth = Math.max(1, Math.floor(samples.length / 10));
    const growth = processes.map((p, i) => {
      const series = samples.map((s) => s.rss[i]).filter((r): r is number => r !== undefined);
      const start = quantile(series.slice(0, tenth), 0.5);
      const end = quantile(series.slice(-tenth), 0.5);
      return { name: p.name, start, end, peak: Math.max(...series), growth: end / start - 1 };
    });
    const rate = (jobs / measuredMs) * 1000;
    const failures: string[] = [];
    for (const g of growth) if (!(g.growth <= MAX_GROWTH)) failures.push(`${g.name} memory grew ${(g.growth * 100).toFixed(1)} % (limit ${MAX_GROWTH * 100} %)`);
    if (after.total !== before.total) failures.push(`Redis holds ${after.total} keys, ${after.total - before.total} more than the ${before.total} at the start`);
    if (lost > 0) failures.push(`${lost} jobs never reached their chat`);
    if (doubled > 0) failures.push(`${doubled} jobs reached their chat more than once`);
    if (refused > 0) failures.push(`${refused} requests refused`);
    if (timedOut > 0) failures.push(`${timedOut} requests waited over 120 s`);
    if (money.wrong_charge + money.kept_after_failure > 0) failures.push(`${money.wrong_charge + money.kept_after_failure} jobs charged wrongly`);

    log(`\nsoak: ${jobs} jobs in ${(measuredMs / 1000).toFixed(0)} s (${rate.toFixed(1)} jobs/s) after a ${warmup}-job warm-up (${(warmMs / 1000).toFixed(0)} s)`);
    log(`  delivered ${accepted.length - lost} of ${accepted.length} accepted (${doubled} twice); Postgres: ${money.jobs} jobs, ${money.succeeded} succeeded, ${money.wrong_charge + money.kept_after_failure} charged wrongly`);
    for (const g of growth) log(`  ${g.name}: RSS ${mb(g.start)} → ${mb(g.end)} (${(g.growth * 100).toFixed(1)} %), peak ${mb(g.peak)}`);
    log(`  Redis keys: ${before.total} at the start, ${after.total} at the end (besides ${before.transient} and ${after.transient} expiring within ${TRANSIENT_TTL_MS / 1000} s)`);
    const kinds = new Set([...before.byKind.keys(), ...after.byKind.keys()]);
    for (const kind of [...kinds].sort()) {
      const [b, a] = [before.byKind.get(kind) ?? 0, after.byKind.get(kind) ?? 0];
      if (a !== b) log(`    ${kind}: ${b} → ${a}`);
    }
    const fullS = (100_000 + 6_000) / rate;
    log(`  a full run (100,000 jobs after a 6,000-job warm-up) at this rate: about ${(fullS / 60).toFixed(0)} min`);
    for (const failure of failures) log(`  FAIL: ${failure}`);
    log(failures.length === 0 ? 'soak: pass' : 'soak: FAIL');
    return failures.length === 0 ? 0 : 1;
  } finally {
    await Promise.all(processes.map((p) => p.kill()));
    await app?.close().catch(() => undefined);
    redis.disconnect();
    await telegram.close();
    if (!values.keep) await infra.close();
    else log(`files kept in ${infra.root}`);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
