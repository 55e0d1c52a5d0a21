import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { AppError } from '../../errors.js';
import { readLimited } from '../core/photo-intake.js';
import type { PhotoSource } from '../core/request.js';

/** Where Discord serves attachments from. */
export const DISCORD_CDN_HOSTS: readonly string[] = ['cdn.discordapp.com', 'media.discordapp.net'];

/** Which attachment URLs may be fetched, and how. */
export interface AttachmentPolicy {
  /** Host names (or `host:port`) trusted for downloads: Discord's CDN plus `ATTACHMENT_HOSTS`. */
  hosts: readonly string[];
  /**
   * Fetch from loopback and private networks too. Off in production: an attachment URL must never
   * make the bot reach into its own network. Tests turn it on for their loopback CDN.
   */
  allowPrivateAddresses?: boolean;
  timeoutMs?: number;
}

export function attachmentPolicy(extraHosts: readonly string[], options: Omit<AttachmentPolicy, 'hosts'> = {}): AttachmentPolicy {
  return { hosts: [...DISCORD_CDN_HOSTS, ...extraHosts.map((h) => h.toLowerCase())], ...options };
}

/** The addresses no attachment download may connect to: loopback, private, link-local, CGNAT, multicast, reserved. */
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  ['64:ff9b::', 96],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv6');
}

/** Pure: whether an IP address is one a download must not reach (IPv4-mapped IPv6 counts as its IPv4). */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true; // not an address at all: refuse
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Pure: the URL when it may be downloaded under `policy` (https, or http only for an explicitly
 * listed `host:port`), else undefined.
 */
export function allowedAttachmentUrl(raw: string, policy: Pick<AttachmentPolicy, 'hosts'>): URL | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.username || url.password) return undefined;
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const hostPort = url.port ? `${host}:${url.port}` : host;
  const listed = policy.hosts.includes(hostPort) || (!url.port && policy.hosts.includes(host));
  if (!listed) return undefined;
  if (url.protocol === 'https:') return url;
  // Plain http only where an operator named the exact host:port (a CDN on their own network, a test).
  return url.protocol === 'http:' && url.port && policy.hosts.includes(hostPort) ? url : undefined;
}

class RefusedAddressError extends Error {
  readonly code = 'EREFUSEDADDRESS';
  constructor() {
    super('attachment host resolves to a private address');
  }
}

/** A DNS lookup that refuses private addresses at connect time, so a rebinding DNS answer cannot slip through. */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as unknown as LookupAddress[];
      if (!allowPrivate && list.some((a) => isPrivateAddress(a.address))) return callback(new RefusedAddressError(), '', 0);
      if (options.all) return (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}

/** What a Discord attachment says about itself. */
export interface AttachmentRef {
  url: string;
  /** Bytes Discord says the file has. */
  size?: number;
  name?: string;
}

/** A bad download, in the words the user reads: "photo N seems damaged or incomplete, send it again". */
const unreadable = (why: string) => new AppError('CORRUPT_IMAGE', why);

/**
 * An attachment as the command layer reads it: only from the trusted hosts, never from a private
 * address, not following redirects, with the byte limit enforced while the bytes arrive (and
 * before, when Discord's announced size is already too large). Errors never quote the URL (its
 * query carries the CDN's signature).
 */
export function discordPhotoSource(attachment: AttachmentRef, label: string, policy: AttachmentPolicy): PhotoSource {
  return {
    label,
    declaredBytes: attachment.size,
    async read(maxBytes) {
      const url = allowedAttachmentUrl(attachment.url, policy);
      if (!url) throw unreadable('attachment URL not on a trusted host');
      const literal = isIP(url.hostname.replace(/^\[|\]$/g, ''));
      if (literal && !policy.allowPrivateAddresses && isPrivateAddress(url.hostname.replace(/^\[|\]$/g, ''))) throw unreadable('attachment URL is a private address');
      if (attachment.size !== undefined && attachment.size > maxBytes) {
        throw new AppError('FILE_TOO_LARGE', 'declared size exceeds limit', { details: { max: maxBytes } });
      }
      return download(url, maxBytes, policy);
    },
  };
}

async function download(url: URL, maxBytes: number, policy: AttachmentPolicy): Promise<Buffer> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const signal = AbortSignal.timeout(policy.timeoutMs ?? 30_000);
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(url, { method: 'GET', lookup: guardedLookup(policy.allowPrivateAddresses ?? false), signal, headers: { accept: 'image/*' } }, resolve);
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error instanceof RefusedAddressError) return reject(unreadable(error.message));
      // Network trouble: the command layer says "temporarily unavailable" and charges nothing.
      reject(Object.assign(new Error(`attachment download failed (${error.code ?? error.name})`), { code: error.code ?? 'ECONNRESET' }));
    });
    req.end();
  });
  try {
    if (response.statusCode !== 200) throw unreadable(`attachment download answered HTTP ${response.statusCode}`);
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) throw new AppError('FILE_TOO_LARGE', 'content-length exceeds limit', { details: { max: maxBytes } });
    return await readLimited(response, maxBytes).catch((error: unknown) => {
      if (error instanceof AppError) throw error;
      throw Object.assign(new Error('attachment download was cut off'), { code: 'ECONNRESET' });
    });
  } finally {
    response.destroy();
  }
}
