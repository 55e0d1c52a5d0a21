import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getJob } from '../../src/db/jobs.repository.js';
import { ledgerOfJob } from '../../src/db/ledger.repository.js';
import { resultsOfJob } from '../../src/db/results.repository.js';
import { createInstantBackend } from '../../src/gpu/instant.backend.js';
import { agree, bufferSource, chatRequest, createTestApp, eventually, recordingDeliverer, type TestApp } from '../support/test-app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A port free on loopback right now. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `likeness worker` as a real separate process, on the test's database and queue prefix (probes on an ephemeral loopback port unless given one). */
function spawnWorker(env: Record<string, string>): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker'], {
    cwd: ROOT,
    env: { ...process.env, OPS_PORT: '0', ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return Object.assign(child, { output: () => output });
}

describe('GPU worker processes', () => {
  let t: TestApp;
  let child: (ChildProcess & { output: () => string }) | undefined;
  beforeEach(async () => {
    t = await createTestApp({ GPU_JOB_LOCK_MS: '1500' });
    await agree(t.app);
  });
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    await t.cleanup();
  });

  const submit = async () => {
    const reply = await t.app.commands.handle(chatRequest({ photos: [bufferSource(await readFile(new URL('../../samples/astronaut.jpg', import.meta.url)))] }));
    expect(reply.job).toBeDefined();
    return reply.job!.id;
  };
  const running = (jobId: string) => eventually(async () => (await getJob(t.app.database.db, jobId))?.status === 'running', 20_000);

  it('a worker killed with SIGKILL mid-job: the job completes once, on another worker, charged once', async () => {
    const jobId = await submit();
    child = spawnWorker({ ...t.env, INSTANT_BACKEND_DELAY_MS: '60000' });
    await running(jobId);
    child.kill('SIGKILL');
    await once(child, 'exit');

    const outbox = recordingDeliverer();
    t.app.startGpuWorker(createInstantBackend());
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    const final = await outbox.finalFor(jobId, 20_000);
    expect(final.reply.images).toHaveLength(4);

    const job = await getJob(t.app.database.db, jobId);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(await resultsOfJob(t.app.database.db, jobId)).toHaveLength(4);
    expect((await ledgerOfJob(t.app.database.db, jobId)).map((l) => [l.reason, l.delta])).toEqual([
      ['reserve', -4],
      ['commit', 0],
    ]);
    await new Promise((r) => setTimeout(r, 500));
    expect(outbox.delivered.filter((d) => d.jobId === jobId && d.kind === 'final')).toHaveLength(1);
  });

  it('SIGTERM lets the running job finish, then the worker exits cleanly', async () => {
    const jobId = await submit();
    child = spawnWorker({ ...t.env, INSTANT_BACKEND_DELAY_MS: '1500' });
    await running(jobId);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code, child.output()).toBe(0);
    const job = await getJob(t.app.database.db, jobId);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(child.output()).toContain('finishing running jobs');
  });

  it('serves /healthz and /readyz on the operations listener (OPS_PORT, loopback) for a container health check, and nothing a chat process serves', async () => {
    const port = await freePort();
    child = spawnWorker({ ...t.env, OPS_PORT: String(port) });
    const url = `http://127.0.0.1:${port}`;
    await eventually(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.status === 200, 20_000);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    const report = (await ready.json()) as { ready: boolean; parts: Record<string, { ok: boolean }> };
    expect(report.ready).toBe(true);
    expect(Object.keys(report.parts).sort()).toEqual(['gpu', 'postgres', 'redis']);
    for (const path of ['/metrics', '/admin/queues', '/files/x']) expect((await fetch(`${url}${path}`)).status, path).toBe(404);

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code, child.output()).toBe(0);
    expect(child.output()).toContain('"host":"127.0.0.1"');
    expect(child.output()).toContain('operations listening (probes: /healthz, /readyz)');
  });
});
