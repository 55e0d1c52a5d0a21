import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Api } from 'grammy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { telegramPhotoSource, type TelegramFileDeps } from '../../src/bots/telegram/telegram-files.js';
import { loadConfig } from '../../src/config.js';

/**
 * A local Bot API server answers `getFile` with a path on its own disk. Whoever answers chooses
 * that path, so it is read only inside TELEGRAM_LOCAL_FILES_DIR, judged by real paths.
 */
describe('telegram files named by an absolute path (local Bot API server)', () => {
  const TOKEN = '123:secret-token-value-abcdefghij';
  let base: string;
  let serverDir: string;
  const inside = 'inside photo bytes';
  const secret = 'a file the bot must never read';

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'tg-local-')));
    serverDir = join(base, 'bot-api');
    await mkdir(join(serverDir, TOKEN, 'photos'), { recursive: true });
    await writeFile(join(serverDir, TOKEN, 'photos', 'file_1.jpg'), inside);
    await writeFile(join(base, 'secret.txt'), secret);
    // A sibling whose name starts with the directory's name: a bare string prefix would let it in.
    await mkdir(join(base, 'bot-api-evil'));
    await writeFile(join(base, 'bot-api-evil', 'file.jpg'), secret);
    await symlink(join(base, 'secret.txt'), join(serverDir, TOKEN, 'photos', 'escape.jpg'));
    await symlink(join(serverDir, TOKEN, 'photos', 'file_1.jpg'), join(serverDir, TOKEN, 'photos', 'alias.jpg'));
    execFileSync('mkfifo', [join(serverDir, TOKEN, 'photos', 'pipe.jpg')]);
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  const read = (filePath: string, localFilesDir: string | null = serverDir) => {
    const deps: TelegramFileDeps = {
      api: { getFile: (async () => ({ file_id: 'f', file_unique_id: 'u', file_path: filePath })) as unknown as Api['getFile'] },
      token: TOKEN,
      apiRoot: 'http://127.0.0.1:1',
      localFilesDir: localFilesDir ?? undefined,
      downloadLimit: 1024 * 1024,
    };
    return telegramPhotoSource(deps, { fileId: 'f', kind: 'photo' }, 'photo 1').read(1024 * 1024);
  };
  /** The refusal, checked to name no path (the server's paths hold the bot token). */
  const refusal = async (promise: Promise<Buffer>) => {
    const error = (await promise.then(
      (bytes) => new Error(`read ${bytes.byteLength} bytes`),
      (e: unknown) => e,
    )) as Error & { code?: string };
    expect(error.code, error.message).toBe('CORRUPT_IMAGE');
    expect(JSON.stringify({ message: error.message, stack: error.stack })).not.toContain('secret-token');
    expect(error.message).not.toContain(base);
    return error.message;
  };

  it('reads a file inside the configured directory, also through a symlink that stays inside', async () => {
    expect((await read(join(serverDir, TOKEN, 'photos', 'file_1.jpg'))).toString()).toBe(inside);
    expect((await read(join(serverDir, TOKEN, 'photos', 'alias.jpg'))).toString()).toBe(inside);
  });

  it('reads nothing from an absolute path when TELEGRAM_LOCAL_FILES_DIR is not set', async () => {
    expect(await refusal(read(join(serverDir, TOKEN, 'photos', 'file_1.jpg'), null))).toMatch(/TELEGRAM_LOCAL_FILES_DIR is not set/);
  });

  it('refuses a path outside, a ../ way out, a symlink leading out and a look-alike sibling directory', async () => {
    expect(await refusal(read(join(base, 'secret.txt')))).toMatch(/outside/);
    expect(await refusal(read('/etc/passwd'))).toMatch(/outside/);
    expect(await refusal(read(`${serverDir}/${TOKEN}/photos/../../../secret.txt`))).toMatch(/outside/);
    expect(await refusal(read(join(serverDir, TOKEN, 'photos', 'escape.jpg')))).toMatch(/outside/);
    expect(await refusal(read(join(base, 'bot-api-evil', 'file.jpg')))).toMatch(/outside/);
  });

  it('refuses what is not a regular file (a FIFO would wait forever) and a file that is not there, without naming it', async () => {
    expect(await refusal(read(join(serverDir, TOKEN, 'photos', 'pipe.jpg')))).toMatch(/not a regular file/);
    expect(await refusal(read(join(serverDir, TOKEN, 'photos', 'gone.jpg')))).toMatch(/cannot resolve a path \(ENOENT\)/);
  });

  it('takes TELEGRAM_LOCAL_FILES_DIR as an absolute path only', () => {
    const config = loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_LOCAL_FILES_DIR: '/var/lib/telegram-bot-api' });
    expect(config.telegram?.localFilesDir).toBe('/var/lib/telegram-bot-api');
    expect(() => loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_LOCAL_FILES_DIR: 'relative/dir' })).toThrow(/TELEGRAM_LOCAL_FILES_DIR: expected an absolute path/);
  });
});
