import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/databases.js';
import { REDIS_URL } from '../support/test-app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

describe('the likeness CLI, as a newcomer runs it', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let dropDb: () => Promise<void>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'likeness-cli-'));
    const db = await createTestDatabase();
    dropDb = db.drop;
    env = { ...process.env, DATABASE_URL: db.url, REDIS_URL, QUEUE_PREFIX: `cli-${randomBytes(4).toString('hex')}`, DATA_DIR: join(dir, 'data'), LOG_LEVEL: '', LOCAL_SUPER_RESOLUTION: 'lanczos' };
  });
  afterAll(async () => {
    await dropDb();
    await rm(dir, { recursive: true, force: true });
  });

  const likeness = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, env, timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('makes 4 portraits from the sample photo, then an 8K upscale of one', async () => {
    const out = join(dir, 'out');
    const portrait = await likeness('portrait', 'samples/astronaut.jpg', '--style', 'studio', '--out', out, '--user', 'newcomer');
    expect(portrait.code, portrait.stderr).toBe(0);
    expect(portrait.stdout).toContain('Use only photos you have the right to use');
    expect(portrait.stdout).toMatch(/Making 4 portraits in the Studio portrait style: (queued — position \d+|in progress), about \d+ s/);
    expect(portrait.stdout).toContain('Here are your portraits (Studio portrait)');
    const files = (await readdir(out)).filter((f) => f.endsWith('.jpg')).sort();
    expect(files).toHaveLength(4);
    for (const file of files) {
      const meta = await sharp(await readFile(join(out, file))).metadata();
      // Three 4:5 portraits and one square (the local backend's third shot).
      expect(meta).toMatchObject({ format: 'jpeg', width: 1024 });
      expect([1280, 1024]).toContain(meta.height);
      expect(meta.xmp?.toString()).toContain('trainedAlgorithmicMedia');
    }

    const resultId = /result ([0-9a-f-]{36})/.exec(portrait.stdout)?.[1];
    expect(resultId).toBeDefined();
    const upscale = await likeness('upscale', resultId!, '--out', out, '--user', 'newcomer');
    expect(upscale.code, upscale.stderr).toBe(0);
    const eightK = (await readdir(out)).find((f) => f.includes('8k'));
    expect(eightK).toBeDefined();
    const meta = await sharp(await readFile(join(out, eightK!))).metadata();
    expect(Math.max(meta.width!, meta.height!)).toBe(7680);

    // Someone else cannot spend this person's result.
    const stranger = await likeness('upscale', resultId!, '--out', out, '--user', 'stranger');
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toContain('Only the person who asked');
  }, 90_000);

  it('refuses a file that is not a photo with a friendly message and no stack trace', async () => {
    const notPhoto = join(dir, 'notes.jpg');
    await writeFile(notPhoto, 'these are my notes, not a photo');
    const result = await likeness('portrait', notPhoto, '--out', join(dir, 'out2'), '--user', 'second-user');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Photo 1 isn't a photo I can read");
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('explains usage when the photo is missing', async () => {
    const result = await likeness('portrait');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('likeness portrait photo.jpg');
  }, 30_000);
});
