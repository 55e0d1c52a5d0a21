import { createReadStream } from 'node:fs';
import { isAbsolute } from 'node:path';
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
  /** Largest file `getFile` may be asked for: 20 MB on the public API. */
  downloadLimit: number;
  downloadTimeoutMs?: number;
}

/**
 * A photo as the command layer reads it: `getFile`, then the download, with the byte limit
 * enforced while reading. A local Bot API server in `--local` mode answers with a path on its own
 * disk instead of a downloadable one; that file is read directly. Errors never carry the
 * token-bearing URL.
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
      if (isAbsolute(info.file_path)) return readLimited(createReadStream(info.file_path), limit);
      return download(deps, info.file_path, limit);
    },
  };
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
