import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, sep } from 'node:path';
import type { Api } from 'grammy';
import { GrammyError } from 'grammy';
import { AppError } from '../../errors.js';
import { PLATFORM_RULES } from '../../images/index.js';
import { readLimited } from '../../net/read-limited.js';
import { safeDownload } from '../../net/safe-download.js';
import type { PhotoSource } from '../core/request.js';
import type { FileRef } from './update-translation.js';

/** What the public Bot API lets a bot download (`getFile`): 20 MB. */
export const CLOUD_DOWNLOAD_LIMIT = 20 * 1024 * 1024;
/** What the public Bot API lets a bot upload (`sendDocument`): 50 MB. */
export const CLOUD_UPLOAD_LIMIT = PLATFORM_RULES.telegramDocument.maxBytes;
/** A local Bot API server (`--local`) allows files up to 2000 MB both ways. */
export const LOCAL_SERVER_LIMIT = 2000 * 1024 * 1024;

/** The public Bot API; any other `TELEGRAM_API_ROOT` is taken to be a local Bot API server. */
export const PUBLIC_API_ROOT = 'https://api.telegram.org';

export const isLocalApiServer = (apiRoot: string): boolean => new URL(apiRoot).host !== new URL(PUBLIC_API_ROOT).host;

export interface TelegramFileDeps {
  api: Pick<Api, 'getFile'>;
  /** Needed for the download URL only; it never leaves this module (not in errors, logs or job data). */
  token: string;
  apiRoot: string;
  /**
   * TELEGRAM_LOCAL_FILES_DIR: where a local Bot API server keeps its files. An absolute `file_path`
   * is read only from inside it; without it, never.
   */
  localFilesDir?: string;
  /** Largest file `getFile` may be asked for: 20 MB on the public API. */
  downloadLimit: number;
  downloadTimeoutMs?: number;
}

/**
 * A photo as the command layer reads it: `getFile`, then the download, with the byte limit
 * enforced while reading. A local Bot API server in `--local` mode answers with a path on its own
 * disk instead of a downloadable one; that file is read directly, from `localFilesDir` only.
 * Errors never carry the token-bearing URL or path.
 */
export function telegramPhotoSource(deps: TelegramFileDeps, file: FileRef, label: string): PhotoSource {
  const tooLarge = (max: number) => new AppError('FILE_TOO_LARGE', 'file over the download limit', { details: { max } });
  return {
    label,
    declaredBytes: file.size,
    ref: { ...file },
    async read(maxBytes) {
      const limit = Math.min(maxBytes, deps.downloadLimit);
      if (file.size !== undefined && file.size > limit) throw tooLarge(limit);
      const info = await deps.api.getFile(file.fileId).catch((error: unknown) => {
        if (error instanceof GrammyError && /too big/i.test(error.description)) throw tooLarge(limit);
        throw error;
      });
      if (info.file_size !== undefined && info.file_size > limit) throw tooLarge(limit);
      if (!info.file_path) throw new AppError('FILE_EMPTY', 'Telegram returned no file path');
      if (isAbsolute(info.file_path)) return readLocalFile(deps.localFilesDir, info.file_path, limit);
      return download(deps, info.file_path, limit);
    },
  };
}

/**
 * A file a local Bot API server names by its absolute path. Whoever answers `getFile` chooses that
 * path, so without a check any API root other than the public one (a proxy, a misconfigured or
 * compromised server) could have us read any file this process can. It is read only when its real
 * path (symlinks and `..` resolved) lies inside the real path of `dir`, and only when it is a
 * regular file (a FIFO or device would hang or never end), checked on the opened handle. Opened
 * with O_NOFOLLOW so a last-moment swap of the file for a symlink fails. Errors name neither path: the server's paths contain the
 * bot token (`<dir>/<token>/photos/file_1.jpg`).
 */
async function readLocalFile(dir: string | undefined, filePath: string, limit: number): Promise<Buffer> {
  const refused = (why: string) => new AppError('CORRUPT_IMAGE', `local Bot API file not read: ${why}`);
  if (!dir) throw refused('absolute file_path and TELEGRAM_LOCAL_FILES_DIR is not set');
  const resolve = (path: string) =>
    realpath(path).catch((error: unknown) => {
      throw refused(`cannot resolve a path (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    });
  const [root, real] = await Promise.all([resolve(dir), resolve(filePath)]);
  if (!real.startsWith(root.endsWith(sep) ? root : root + sep)) throw refused('outside TELEGRAM_LOCAL_FILES_DIR');
  // O_NONBLOCK: opening a FIFO must not wait for a writer; what was opened is then checked.
  const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((error: unknown) => {
    throw refused(`cannot open (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  });
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw refused('not a regular file');
  }
  return readLimited(handle.createReadStream(), limit); // the stream closes the handle when done
}

/**
 * Telegram serves files itself: from the API root's own host only, no redirect followed (it would
 * carry the token-bearing request somewhere we did not choose), never quoting the URL in errors.
 * A local Bot API server is the operator's own, usually on a private address.
 */
function download(deps: TelegramFileDeps, filePath: string, limit: number): Promise<Buffer> {
  const root = new URL(deps.apiRoot);
  const path = filePath.split('/').map(encodeURIComponent).join('/');
  const policy = { hosts: [root.host], allowPrivateAddresses: isLocalApiServer(deps.apiRoot), timeoutMs: deps.downloadTimeoutMs ?? 60_000 };
  return safeDownload(`${deps.apiRoot.replace(/\/+$/, '')}/file/bot${deps.token}/${path}`, limit, policy);
}
