import type { SignedLinks } from '../bots/core/deliverer.js';
import type { Logger } from '../logger.js';
import { ArtifactNotFoundError, type ArtifactStore } from '../storage/artifact-store.js';
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

/**
 * `GET /files/<token>`: the artifact's bytes as an attachment while the token is genuine and
 * current; 403 when any part of it was changed, 410 once it has expired, 404 when the file is no
 * longer stored (retention, /forget). Neither the token nor the secret is ever logged.
 */
export function createFileDownloadRoute(options: { secret: () => Promise<Buffer>; store: Pick<ArtifactStore, 'get'>; logger: Logger; now?: () => number }): RouteHandler {
  const now = options.now ?? Date.now;
  const logger = options.logger.child({ component: 'files' });
  return async (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const token = path.slice(FILES_PATH.length + 1); // base64url and a dot: nothing to decode
    let secret: Buffer;
    try {
      secret = await options.secret();
    } catch (error) {
      logger.warn({ err: error }, 'the link secret could not be read');
      return respond(res, 503, 'Downloads are unavailable for a moment. Please try again shortly.');
    }
    const check = verifyFileToken(secret, token, now());
    if (!check.ok && check.reason === 'expired') return respond(res, 410, 'This download link has expired. Ask the bot for the file again.');
    if (!check.ok) return respond(res, 403, 'This download link is not valid.');

    const { artifactKey, filename } = check.claim;
    let bytes: Buffer;
    try {
      bytes = await options.store.get(artifactKey);
    } catch (error) {
      if (!(error instanceof ArtifactNotFoundError)) throw error;
      logger.info({ artifactKey }, 'a signed link asked for a file that is no longer stored');
      return respond(res, 404, 'This file is no longer available: stored results are deleted after a while.');
    }
    res.writeHead(200, {
      'content-type': contentTypeOf(filename),
      'content-length': bytes.byteLength,
      'content-disposition': attachmentDisposition(filename),
      'cache-control': 'private, no-store',
      'x-content-type-options': 'nosniff',
      // The token is in the URL: keep it out of any Referer.
      'referrer-policy': 'no-referrer',
    });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  };
}
