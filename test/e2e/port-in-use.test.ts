import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/databases.js';
import { REDIS_URL } from '../support/test-app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('two processes on one host with one environment', () => {
  const taken = createServer();
  let port: number;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    taken.listen(0, '::');
    await once(taken, 'listening');
    port = (taken.address() as AddressInfo).port;
    db = await createTestDatabase();
  });
  afterAll(async () => {
    taken.close();
    await db.drop();
  });

  it('a worker whose OPS_PORT (its probes) is taken exits at once, saying which setting to change', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: db.url, REDIS_URL, QUEUE_PREFIX: `port-${randomBytes(4).toString('hex')}`, OPS_PORT: String(port), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = await once(child, 'exit');
    expect(code, stderr).toBe(1);
    expect(stderr).toContain(`OPS_PORT ${port} is already in use`);
    expect(stderr).toContain(`OPS_PORT=${port + 1} likeness worker`);
    expect(stderr).toContain('OPS_PORT=0');
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  }, 60_000);
});
