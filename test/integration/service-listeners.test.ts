/**
 * `likeness serve` as an operator runs it: two listeners. The public one (HTTP_PORT, every
 * interface) serves `/files/` and `/healthz` only; the operations one (OPS_PORT) serves `/readyz`,
 * `/metrics` and `/admin/queues`, and binds to loopback unless OPS_HOST says otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, eventually, type TestApp } from '../support/test-app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer().listen(0);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** An address of this machine that is not loopback, if it has one. */
const outsideAddress = (): string | undefined =>
  Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry && entry.family === 'IPv4' && !entry.internal)?.address;

const status = (url: string) => fetch(url).then((response) => response.status, () => 'refused' as const);

describe('likeness serve: public and operations listeners', () => {
  let t: TestApp;
  let child: ChildProcess;
  let output = '';
  let publicPort: number;
  let opsPort: number;

  beforeAll(async () => {
    t = await createTestApp({ ADMIN_PASSWORD: 'a-long-admin-password-0123' });
    [publicPort, opsPort] = [await freePort(), await freePort()];
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
      cwd: ROOT,
      env: { ...process.env, ...t.env, HTTP_PORT: String(publicPort), OPS_PORT: String(opsPort), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await eventually(async () => output.includes('likeness started'), 20_000);
  }, 30_000);
  afterAll(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    await t.cleanup();
  });

  it('serves the operator routes on the operations listener only, bound to 127.0.0.1 by default', async () => {
    const pub = `http://127.0.0.1:${publicPort}`;
    const ops = `http://127.0.0.1:${opsPort}`;
    expect(await status(`${pub}/healthz`)).toBe(200);
    for (const path of ['/readyz', '/metrics', '/admin/queues']) expect(await status(`${pub}${path}`), `public ${path}`).toBe(404);
    expect(await status(`${pub}/files/x`)).toBe(403);

    expect(await status(`${ops}/healthz`)).toBe(200);
    expect(await status(`${ops}/readyz`)).toBe(200);
    expect(await status(`${ops}/metrics`)).toBe(200);
    expect(await status(`${ops}/admin/queues`)).toBe(401);
    expect(await status(`${ops}/files/x`)).toBe(404);
    expect(output).toMatch(/"host":"127\.0\.0\.1","port":\d+,"msg":"operations listening/);

    // From another interface of this machine the public listener answers and the operations one does not.
    const outside = outsideAddress();
    if (outside) {
      expect(await status(`http://${outside}:${publicPort}/healthz`)).toBe(200);
      expect(await status(`http://${outside}:${opsPort}/metrics`)).toBe('refused');
    }
  });
});
