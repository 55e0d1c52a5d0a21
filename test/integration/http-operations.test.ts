/**
 * The operator's routes of the bots process over real HTTP, with real Postgres, Redis and queues:
 * readiness (with dependencies cut through a loopback proxy), Prometheus metrics of a finished job,
 * and the bull-board dashboard behind ADMIN_PASSWORD.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import type { ChatPort } from '../../src/bots/core/deliverer.js';
import { loadConfig } from '../../src/config.js';
import { createBackendHealthCheck } from '../../src/gpu/backend-health.js';
import { registerOperations, type Operations } from '../../src/http/operations.js';
import { registerProbes } from '../../src/http/probes.js';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { createProducerConnection } from '../../src/jobs/redis.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, SERVER_URL } from '../support/databases.js';
import { startFakeCog } from '../support/fake-cog.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { agree, bufferSource, chatRequest, createTestApp, eventually, recordingDeliverer, REDIS_URL, type TestApp } from '../support/test-app.js';

const astronaut = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));

/** The chat side's HTTP server with the operations routes, on an ephemeral loopback port. */
async function serveOperations(app: App, redis: Redis): Promise<{ http: HttpServer; ops: Operations; url: string }> {
  const http = createHttpServer({ logger: app.logger });
  const ops = registerOperations({ public: http, operations: http }, { app, redis });
  const port = await http.listen(0, '127.0.0.1');
  return { http, ops, url: `http://127.0.0.1:${port}` };
}

const redisConnection = (url: string) => {
  const redis = createProducerConnection(url);
  redis.on('error', () => undefined); // expected while a proxy is cut
  return redis;
};

describe('/readyz', () => {
  // The machine's Postgres and Redis are shared with test files running at the same time, so they
  // are never stopped: the app reaches them through TCP proxies on loopback, and the test cuts and
  // restores those proxies instead.
  let pgProxy: TcpProxy;
  let redisProxy: TcpProxy;
  let app: App;
  let redis: Redis;
  let server: Awaited<ReturnType<typeof serveOperations>>;
  let cleanup: () => Promise<void>;
  const readinessLog: string[] = [];

  beforeAll(async () => {
    const pgTarget = new URL(SERVER_URL);
    const redisTarget = new URL(REDIS_URL);
    pgProxy = await startTcpProxy({ host: pgTarget.hostname, port: Number(pgTarget.port || 5432) });
    redisProxy = await startTcpProxy({ host: redisTarget.hostname, port: Number(redisTarget.port || 6379) });
    const database = await createTestDatabase();
    const viaProxy = new URL(database.url);
    viaProxy.port = String(pgProxy.port);
    const dataDir = await mkdtemp(join(tmpdir(), 'likeness-ready-'));
    const config = loadConfig({
      DATABASE_URL: viaProxy.toString(),
      REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
      QUEUE_PREFIX: `test-${randomBytes(5).toString('hex')}`,
      DATA_DIR: dataDir,
      GPU_BACKEND: 'instant',
      LOG_LEVEL: 'silent',
    });
    app = createApp(config, createLogger({ level: 'warn', destination: new Writable({ write: (chunk, _enc, done) => (readinessLog.push(String(chunk)), done()) }) }));
    redis = redisConnection(config.redisUrl);
    server = await serveOperations(app, redis);
    cleanup = async () => {
      pgProxy.restore();
      redisProxy.restore();
      await server.http.close();
      await server.ops.close();
      await app.close();
      redis.disconnect();
      await pgProxy.close();
      await redisProxy.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    };
  });
  afterAll(() => cleanup());

  const ready = async () => {
    const response = await fetch(`${server.url}/readyz`);
    return { status: response.status, body: (await response.json()) as { ready: boolean; failed?: string[]; parts: Record<string, { ok: boolean; ms: number; error?: string }> } };
  };

  it('is ready while Postgres, Redis and the backend answer, says which part failed when one does not, and recovers', async () => {
    const first = await ready();
    expect(first.status).toBe(200);
    expect(first.body.ready).toBe(true);
    expect(Object.keys(first.body.parts).sort()).toEqual(['gpu', 'postgres', 'redis']);
    expect(Object.values(first.body.parts).every((p) => p.ok)).toBe(true);

    // Postgres becomes unreachable: not ready, and the answer names it (the others still answer).
    pgProxy.cut();
    const pgDown = await eventually(async () => {
      const r = await ready();
      return r.status === 503 ? r : undefined;
    }, 10_000);
    expect(pgDown.body.failed).toEqual(['postgres']);
    expect(pgDown.body.parts.postgres!.ok).toBe(false);
    // Generic in the answer (whoever reaches the probe learns no host, role or driver message); the details are in the log.
    expect(['timed out', 'not answering']).toContain(pgDown.body.parts.postgres!.error);
    expect(readinessLog.join('')).toMatch(/"part":"postgres".*"msg":"readiness check failed"/);
    expect(pgDown.body.parts.postgres!.ms).toBeLessThan(2_500); // each check is bounded
    expect(pgDown.body.parts.redis!.ok).toBe(true);

    // Postgres is back: ready again.
    pgProxy.restore();
    await eventually(async () => (await ready()).status === 200, 10_000);

    // The same for Redis.
    redisProxy.cut();
    const redisDown = await eventually(async () => {
      const r = await ready();
      return r.status === 503 ? r : undefined;
    }, 10_000);
    expect(redisDown.body.failed).toEqual(['redis']);
    expect(redisDown.body.parts.postgres!.ok).toBe(true);
    expect(['timed out', 'not answering']).toContain(redisDown.body.parts.redis!.error);
    redisProxy.restore();
    const back = await eventually(async () => {
      const r = await ready();
      return r.status === 200 ? r : undefined;
    }, 15_000);
    expect(back.body.ready).toBe(true);
  });

  it('/healthz answers while a dependency is down (the process is alive)', async () => {
    pgProxy.cut();
    try {
      const response = await fetch(`${server.url}/healthz`);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('ok');
    } finally {
      pgProxy.restore();
    }
  });
});

describe('GPU backend readiness', () => {
  const gpu = (overrides: Record<string, string>) => loadConfig({ LOG_LEVEL: 'silent', ...overrides }).gpu;

  it('local and instant are always ready', async () => {
    await expect(createBackendHealthCheck(gpu({ GPU_BACKEND: 'local' }))(AbortSignal.timeout(1000))).resolves.toMatch(/local/);
    await expect(createBackendHealthCheck(gpu({ GPU_BACKEND: 'instant' }))(AbortSignal.timeout(1000))).resolves.toMatch(/instant/);
  });

  it('cog is ready while one endpoint answers READY or BUSY, and names no endpoint address', async () => {
    const [a, b] = await Promise.all([startFakeCog(), startFakeCog()]);
    try {
      const check = createBackendHealthCheck(gpu({ GPU_BACKEND: 'cog', COG_ENDPOINTS: `${a.url},${b.url}` }));
      expect(await check(AbortSignal.timeout(2000))).toBe('2 of 2 Cog endpoints ready');
      a.setDown(true);
      expect(await check(AbortSignal.timeout(2000))).toBe('1 of 2 Cog endpoints ready');
      b.setHealth('SETUP_FAILED');
      const failure = await check(AbortSignal.timeout(2000)).then(
        () => undefined,
        (error: Error) => error.message,
      );
      expect(failure).toMatch(/^0 of 2 Cog endpoints ready \(UNREACHABLE, SETUP_FAILED\)$/);
      expect(failure).not.toContain('127.0.0.1');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('replicate asks for the account with the token: ready on 200, not ready when the token is refused', async () => {
    const token = 'r8_readinessToken0123456789abcdefghij';
    let accepted = true;
    const seen: Array<{ path?: string; auth?: string }> = [];
    const api = createServer((req, res) => {
      seen.push({ path: req.url, auth: req.headers.authorization });
      const ok = accepted && req.headers.authorization === `Bearer ${token}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(JSON.stringify(ok ? { type: 'user', username: 'likeness' } : { detail: 'Unauthenticated' }));
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(api.address() as AddressInfo).port}/v1`;
      const check = createBackendHealthCheck(gpu({ GPU_BACKEND: 'replicate', REPLICATE_API_TOKEN: token, REPLICATE_BASE_URL: base }));
      expect(await check(AbortSignal.timeout(2000))).toBe('replicate');
      expect(seen[0]).toEqual({ path: '/v1/account', auth: `Bearer ${token}` });
      accepted = false;
      const failure = await check(AbortSignal.timeout(2000)).then(
        () => undefined,
        (error: Error) => error.message,
      );
      expect(failure).toBe('Replicate refused the API token (HTTP 401)');
    } finally {
      await new Promise((resolve) => api.close(resolve));
    }
  });
});

describe('/metrics and /admin/queues', () => {
  const password = `pw-${randomBytes(12).toString('hex')}`;
  let t: TestApp;
  let redis: Redis;
  let server: Awaited<ReturnType<typeof serveOperations>>;

  beforeAll(async () => {
    // 300 ms of "GPU" per job: the instant backend records it as the job's GPU seconds.
    t = await createTestApp({ INSTANT_BACKEND_DELAY_MS: '300', ADMIN_PASSWORD: password });
    redis = redisConnection(t.config.redisUrl);
    server = await serveOperations(t.app, redis);
  });
  afterAll(async () => {
    await server.http.close();
    await server.ops.close();
    await t.cleanup();
    redis.disconnect();
  });

  const scrape = async () => {
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.text();
  };
  /** The value of one exact series line, e.g. `likeness_jobs_total{kind="portrait",outcome="succeeded"}`. */
  const valueOf = (text: string, series: string): number | undefined => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('count a finished job: outcome, durations, GPU seconds and cost, queue depth, a failed delivery attempt', async () => {
    const before = await scrape();
    expect(valueOf(before, 'likeness_jobs_total{kind="portrait",outcome="succeeded"}')).toBeUndefined();
    expect(valueOf(before, 'likeness_metrics_source_up{source="postgres"}')).toBe(1);
    expect(valueOf(before, 'likeness_metrics_source_up{source="redis"}')).toBe(1);
    // prom-client's default process metrics, in our own registry.
    expect(before).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(before).toMatch(/^nodejs_heap_size_used_bytes \d/m);

    // A delivery that fails once (a platform hiccup) and then goes through on the queue's retry.
    const outbox = recordingDeliverer();
    let failures = 0;
    const flaky: ChatPort = {
      ...outbox.deliverer,
      async postResults(conversation, reply, jobId, shown) {
        if (failures++ === 0) throw new Error('platform hiccup');
        return outbox.deliverer.postResults(conversation, reply, jobId, shown);
      },
    };
    await agree(t.app);
    const reply = await t.app.commands.handle(chatRequest({ photos: [bufferSource(astronaut)] }));
    const jobId = reply.job!.id;
    const queued = await scrape();
    expect(valueOf(queued, 'likeness_queue_jobs{queue="gpu",state="prioritized"}')! + valueOf(queued, 'likeness_queue_jobs{queue="gpu",state="waiting"}')!).toBe(1);
    expect(valueOf(queued, 'likeness_jobs_in_progress{kind="portrait",status="queued"}')).toBe(1);

    t.app.startGpuWorker();
    t.app.startDeliveryWorker(new Map([['telegram', flaky]]), server.ops.deliveryObserver);
    await outbox.finalFor(jobId);

    const after = await eventually(async () => {
      const text = await scrape();
      // The observer sees the delivery from inside its queue job, which is marked completed a moment later.
      const settled = valueOf(text, 'likeness_queue_jobs{queue="delivery",state="active"}') === 0;
      return valueOf(text, 'likeness_job_duration_seconds_count{kind="portrait",outcome="succeeded"}') === 1 && settled ? text : undefined;
    });
    expect(valueOf(after, 'likeness_jobs_total{kind="portrait",outcome="succeeded"}')).toBe(1);
    expect(valueOf(after, 'likeness_jobs_in_progress{kind="portrait",status="queued"}')).toBeUndefined();
    expect(valueOf(after, 'likeness_job_duration_seconds_sum{kind="portrait",outcome="succeeded"}')).toBeGreaterThanOrEqual(0.3);
    expect(valueOf(after, 'likeness_job_duration_seconds_bucket{le="0.25",kind="portrait",outcome="succeeded"}')).toBe(0);
    expect(valueOf(after, 'likeness_job_queue_wait_seconds_count{kind="portrait"}')).toBe(1);
    expect(valueOf(after, 'likeness_gpu_seconds_total{backend="instant"}')).toBeCloseTo(0.3, 5);
    expect(valueOf(after, 'likeness_gpu_cost_usd_total{backend="instant"}')).toBe(0);
    expect(valueOf(after, 'likeness_delivery_failures_total{platform="telegram",event="succeeded"}')).toBe(1);
    for (const queue of ['gpu', 'delivery']) {
      for (const state of ['waiting', 'prioritized', 'delayed', 'active', 'failed']) {
        expect(valueOf(after, `likeness_queue_jobs{queue="${queue}",state="${state}"}`), `${queue} ${state}`).toBe(0);
      }
    }
  });

  const admin = (path = '', init: RequestInit & { user?: string; password?: string; base?: string } = {}) =>
    fetch(`${init.base ?? server.url}/admin/queues${path}`, {
      ...init,
      headers: {
        ...(init.headers as Record<string, string>),
        ...(init.password !== undefined ? { authorization: `Basic ${Buffer.from(`${init.user ?? 'admin'}:${init.password}`).toString('base64')}` } : {}),
      },
    });

  it('the queue dashboard refuses a missing or wrong password and serves bull-board with the right one', async () => {
    const anonymous = await admin();
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Basic realm="Likeness admin", charset="UTF-8"');
    expect((await admin('', { password: 'wrong' })).status).toBe(401);
    expect((await admin('', { password: `${password}x` })).status).toBe(401);
    expect((await admin('', { password: password.slice(0, -1) })).status).toBe(401);
    expect((await admin('/api/queues', { password: '' })).status).toBe(401);

    const page = await admin('', { password, user: 'anyone' });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('Likeness queues');
    expect(html).toContain('<base href="/admin/queues/" />');
    // Its assets are served below the same path, behind the same password.
    const css = /href="(static\/css\/[^"]+\.css)"/.exec(html)![1]!;
    expect((await admin(`/${css}`, { password })).status).toBe(200);
    expect((await admin(`/${css}`)).status).toBe(401);

    // The dashboard's own API sees our queues.
    const api = await admin('/api/queues', { password });
    expect(api.status).toBe(200);
    const { queues } = (await api.json()) as { queues: Array<{ name: string }> };
    expect(queues.map((q) => q.name).sort()).toEqual(['delivery', 'gpu']);
    expect((await admin('/api/queues', { password: 'wrong' })).status).toBe(401);

    // Read-only by default: no change of any kind goes through, and the dashboard shows it read-only.
    const paused = async (url = server.url) =>
      ((await (await admin('/api/queues', { password, base: url })).json()) as { queues: Array<{ name: string; isPaused: boolean; readOnlyMode: boolean }> }).queues.find((q) => q.name === 'gpu')!;
    expect(await paused()).toMatchObject({ isPaused: false, readOnlyMode: true });
    for (const [method, path] of [['PUT', '/api/queues/gpu/pause'], ['PUT', '/api/queues/gpu/clean/failed'], ['DELETE', '/api/queues/gpu/obliterate'], ['PUT', '/api/queues/gpu/empty'], ['POST', '/api/queues/gpu/add']] as const) {
      const refused = await admin(path, { method, password, headers: { origin: server.url } });
      expect(refused.status, `${method} ${path}`).toBe(403);
      expect(await refused.text()).toMatch(/read-only \(set ADMIN_QUEUES_WRITE=true/);
    }
    expect((await paused()).isPaused).toBe(false);

    // ADMIN_QUEUES_WRITE=true: a change requested by a foreign page (the browser would add the cached
    // credentials) is still refused; the same change from the dashboard's own origin goes through.
    const writable = await serveOperations({ ...t.app, config: { ...t.config, http: { ...t.config.http, adminQueuesWrite: true } } }, redis);
    try {
      const foreign = await admin('/api/queues/gpu/pause', { method: 'PUT', password, headers: { origin: 'https://evil.example' }, base: writable.url });
      expect(foreign.status).toBe(403);
      expect((await paused(writable.url)).isPaused).toBe(false);
      expect((await admin('/api/queues/gpu/pause', { method: 'PUT', password, headers: { origin: writable.url }, base: writable.url })).status).toBe(200);
      expect(await paused(writable.url)).toMatchObject({ isPaused: true, readOnlyMode: false });
      expect((await admin('/api/queues/gpu/resume', { method: 'PUT', password, base: writable.url })).status).toBe(200);
      expect((await paused(writable.url)).isPaused).toBe(false);
    } finally {
      await writable.http.close();
      await writable.ops.close();
    }
  });

  it('a brute-force run on the dashboard is slowed down (429 without a check) and every failure is logged, without the password', async () => {
    const log: string[] = [];
    const logger = createLogger({ level: 'info', destination: new Writable({ write: (chunk, _enc, done) => (log.push(String(chunk)), done()) }) });
    const http = createHttpServer({ logger });
    const ops = registerOperations({ public: http, operations: http }, { app: { ...t.app, logger }, redis, adminThrottle: { freeFailures: 3, baseDelayMs: 300, maxDelayMs: 5_000 } });
    const url = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}`;
    try {
      const guesses = Array.from({ length: 30 }, (_, i) => `guess-${i}-${randomBytes(4).toString('hex')}`);
      const statuses: number[] = [];
      for (const guess of guesses) statuses.push((await admin('/api/queues', { password: guess, base: url })).status);
      // Three free failures, the fourth locks the address: the rest are not even checked.
      expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401]);
      expect(statuses.slice(4).every((status) => status === 429)).toBe(true);
      const locked = await admin('/api/queues', { password, base: url });
      expect(locked.status).toBe(429); // even the right password waits
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

      const failures = log.filter((line) => line.includes('"msg":"admin login failed"'));
      expect(failures).toHaveLength(4);
      expect(JSON.parse(failures[3]!)).toMatchObject({ level: 40, component: 'admin', address: '127.0.0.1', failures: 4, lockedForMs: 300 });
      for (const guess of guesses) expect(log.join('')).not.toContain(guess);
      expect(log.join('')).not.toContain(password);

      // Once the wait is over, the right password is let in and the count starts again.
      await new Promise((resolve) => setTimeout(resolve, 350));
      expect((await admin('/api/queues', { password, base: url })).status).toBe(200);
      expect((await admin('/api/queues', { password: 'wrong-again', base: url })).status).toBe(401);
    } finally {
      await http.close();
      await ops.close();
    }
  });

  it('without ADMIN_PASSWORD there is no dashboard at all', async () => {
    const config = { ...t.config, http: { ...t.config.http, adminPassword: undefined } };
    const open = await serveOperations({ ...t.app, config }, redis);
    try {
      expect((await fetch(`${open.url}/admin/queues`)).status).toBe(404);
      expect((await fetch(`${open.url}/admin/queues/api/queues`)).status).toBe(404);
      const withAnyPassword = await fetch(`${open.url}/admin/queues/api/queues`, { headers: { authorization: `Basic ${Buffer.from('admin:').toString('base64')}` } });
      expect(withAnyPassword.status).toBe(404);
    } finally {
      await open.http.close();
      await open.ops.close();
    }
  });
});

describe('/healthz', () => {
  it('is 200 while the process’s queue workers run, and 503 naming the one that stopped', async () => {
    const t = await createTestApp();
    const redis = redisConnection(REDIS_URL);
    const http = createHttpServer({ logger: t.app.logger });
    const running = { gpu: true, delivery: true };
    const workers = Object.entries(running).map(([name]) => ({ name, isRunning: () => running[name as keyof typeof running] }));
    registerProbes(http, { app: t.app, redis, workers: () => workers });
    const url = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}`;
    try {
      const live = await fetch(`${url}/healthz`);
      expect([live.status, await live.text()]).toEqual([200, 'ok']);
      running.gpu = false;
      const dead = await fetch(`${url}/healthz`);
      expect(dead.status).toBe(503);
      expect(await dead.json()).toEqual({ live: false, stopped: ['gpu'] });
    } finally {
      await http.close();
      redis.disconnect();
      await t.cleanup();
    }
  });
});
