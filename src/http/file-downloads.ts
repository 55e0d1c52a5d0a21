import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { SignedLinks } from '../bots/core/deliverer.js';
import type { Logger } from '../logger.js';
import { ArtifactNotFoundError, type ArtifactStore } from '../storage/artifact-store.js';
import { createAddressLimit } from './address-limit.js';
import { signFileToken, verifyFileToken } from './file-token.js';
import { respond, type RouteHandler } from './server.js';

/** Where signed downloads are served: `/files/<token>`. */
export const FILES_PATH = '/files';

export interface SignedLinkOptions {
  /** The key (see createLinkSecret). */
  secret: () => Promise<Buffer>;
  /** `PUBLIC_URL`: where people reach this server; without it no link can be made. */
  publicUrl?: string;
  ttlHours: number;
  /** Milliseconds since the epoch (tests move it on). */
  now?: () => number;
}

/**
 * Links to artifacts too large for a chat: `<PUBLIC_URL>/files/<token>`, valid for `ttlHours`.
 * `urlFor` answers undefined when PUBLIC_URL is not set (the deliverers then say no link can be made).
 */
export function createSignedLinks(options: SignedLinkOptions): SignedLinks {
  const now = options.now ?? Date.now;
  // A PUBLIC_URL with a path (https://example.org/likeness) keeps it: the link goes below it.
  const base = options.publicUrl && new URL(options.publicUrl.endsWith('/') ? options.publicUrl : `${options.publicUrl}/`);
  return {
    async urlFor(artifactKey, filename) {
      if (!base) return undefined;
      const expiresAt = Math.floor(now() / 1000) + Math.round(options.ttlHours * 3600);
      const token = signFileToken(await options.secret(), { artifactKey, filename, expiresAt });
      return new URL(`${FILES_PATH.slice(1)}/${token}`, base).toString();
    },
  };
}

const CONTENT_TYPES: Record<string, string> = { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', avif: 'image/avif' };

/** The content type a file name implies; anything unknown downloads as bytes. */
export const contentTypeOf = (filename: string): string => CONTENT_TYPES[/\.([a-z0-9]+)$/i.exec(filename)?.[1]?.toLowerCase() ?? ''] ?? 'application/octet-stream';

/** `attachment` with an ASCII fallback name and the exact UTF-8 one (RFC 6266 / 8187). */
export function attachmentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\w.-]+/g, '_').slice(0, 200) || 'download';
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

/** What the download route needs; each part narrow, so tests can hand in their own. */
export interface FileDownloadDeps {
  secret: () => Promise<Buffer>;
  store: Pick<ArtifactStore, 'stat' | 'getStream'>;
  /** Whether a key may be served at all: a result with a live row (see isDownloadableResult), never an input photo. */
  isDownloadable: (artifactKey: string) => Promise<boolean>;
  /** FILE_LINK_TTL_HOURS: a token claiming to live longer than this from now was not made by us. */
  ttlHours: number;
  /** Downloads one client address may run at once; 0: no limit. */
  perAddress: number;
  logger: Logger;
  /** Milliseconds since the epoch (tests move it on). */
  now?: () => number;
}

/** Slack for clocks of different processes: a link minted a moment "later" elsewhere is still ours. */
const CLOCK_SLACK_MS = 5 * 60_000;

/**
 * `GET` and `HEAD /files/<token>`: the artifact as an attachment while the token is genuine and
 * current and names a result that is still stored; 403 when any part of it was changed or it claims
 * a longer life than links are given, 410 once it has expired, 404 when the file is not (or no
 * longer) a downloadable result, 429 past the per-address limit. The bytes are streamed with
 * backpressure (a client that stops reading holds a buffer, not the file, until the server's idle
 * timeout closes it); HEAD reads only the size. Neither the token nor the secret is ever logged.
 */
export function createFileDownloadRoute(deps: FileDownloadDeps): RouteHandler {
  const now = deps.now ?? Date.now;
  const logger = deps.logger.child({ component: 'files' });
  const limit = createAddressLimit(deps.perAddress);
  const gone = (res: ServerResponse) => respond(res, 404, 'This file is no longer available: stored results are deleted after a while.');

  return async (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const token = path.slice(FILES_PATH.length + 1); // base64url and a dot: nothing to decode
    let secret: Buffer;
    try {
      secret = await deps.secret();
    } catch (error) {
      logger.warn({ err: error }, 'the link secret could not be read');
      return respond(res, 503, 'Downloads are unavailable for a moment. Please try again shortly.');
    }
    const check = verifyFileToken(secret, token, now());
    if (!check.ok && check.reason === 'expired') return respond(res, 410, 'This download link has expired. Ask the bot for the file again.');
    if (!check.ok) return respond(res, 403, 'This download link is not valid.');

    const { artifactKey, filename, expiresAt } = check.claim;
    if (expiresAt * 1000 > now() + deps.ttlHours * 3_600_000 + CLOCK_SLACK_MS) {
      // Genuine but longer-lived than we make them: someone else holds the secret.
      logger.warn({ artifactKey }, 'a signed link claims a longer life than links are given: refused (is the link secret known elsewhere?)');
      return respond(res, 403, 'This download link is not valid.');
    }
    let downloadable: boolean;
    try {
      downloadable = await deps.isDownloadable(artifactKey);
    } catch (error) {
      logger.warn({ err: error }, 'could not check whether a download is still stored');
      return respond(res, 503, 'Downloads are unavailable for a moment. Please try again shortly.');
    }
    if (!downloadable) {
      logger.info({ artifactKey }, 'a signed link names no downloadable result (purged, forgotten, or not a result): refused');
      return gone(res);
    }

    const release = limit.acquire(req.socket.remoteAddress ?? 'unknown');
    if (!release) {
      res.setHeader('retry-after', '10');
      return respond(res, 429, 'Too many downloads at once from your address. Please wait for one to finish.');
    }
    res.once('close', release);
    try {
      const opened = req.method === 'HEAD' ? { ...(await deps.store.stat(artifactKey)), body: undefined } : await deps.store.getStream(artifactKey);
      res.writeHead(200, {
        'content-type': contentTypeOf(filename),
        'content-length': opened.size,
        'content-disposition': attachmentDisposition(filename),
        'cache-control': 'private, no-store',
        'x-content-type-options': 'nosniff',
        // The token is in the URL: keep it out of any Referer.
        'referrer-policy': 'no-referrer',
      });
      if (!opened.body) return void res.end();
      await pipeline(opened.body, res).catch((error: unknown) => {
        // The client went away or stopped reading until the idle timeout: the file is closed with it.
        logger.debug({ err: error, artifactKey }, 'a download was cut off');
      });
    } catch (error) {
      if (!(error instanceof ArtifactNotFoundError)) throw error;
      logger.info({ artifactKey }, 'a signed link asked for a file that is no longer stored');
      return gone(res);
    } finally {
      release();
    }
  };
}
