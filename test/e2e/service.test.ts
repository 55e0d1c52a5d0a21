import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/databases.js';
import { ada, agreeToTerms, FakeTelegram, privateChat } from '../support/fake-telegram.js';
import { REDIS_URL } from '../support/test-app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('likeness all, as an operator runs it, with a Telegram bot', () => {
  let fake: FakeTelegram;
  let child: ChildProcess;
  let output = '';
  let dir: string;
  let dropDb: () => Promise<void>;

  beforeAll(async () => {
    fake = await new FakeTelegram().start();
    dir = await mkdtemp(join(tmpdir(), 'likeness-service-'));
    const db = await createTestDatabase();
    dropDb = db.drop;
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'all'], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        REDIS_URL,
        QUEUE_PREFIX: `svc-${randomBytes(4).toString('hex')}`,
        DATA_DIR: join(dir, 'data'),
        HTTP_PORT: '0',
        OPS_PORT: '0',
        LOG_LEVEL: 'info',
        GPU_BACKEND: 'local',
        LOCAL_SUPER_RESOLUTION: 'lanczos',
        TELEGRAM_BOT_TOKEN: fake.token,
        TELEGRAM_API_ROOT: fake.url,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  });
  afterAll(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await fake.close();
    await dropDb();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers a photo with 4 portraits, stops cleanly on SIGTERM, and never logs the token', async () => {
    await agreeToTerms(fake, ada);
    const photo = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));
    await fake.userSends({ chat: privateChat(ada), from: ada, photo, caption: '/portrait noir' });
    await fake.waitFor(() => (fake.sentIn(ada.id).filter((m) => m.media_group_id).length >= 4 ? true : undefined), 45_000, 'album of 4');
    expect(fake.callsOf('setMyCommands')).toHaveLength(1);

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code, output).toBe(0);
    expect(output).toContain('"platforms":["telegram"]');
    expect(output).toContain('stopped');
    expect(output).not.toContain(fake.token.split(':')[1]!);
  }, 90_000);
});
