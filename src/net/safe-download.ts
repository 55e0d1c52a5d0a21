import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { AppError } from '../errors.js';
import { readLimited } from './read-limited.js';

/**
 * Downloads from URLs that strangers hand us (a chat attachment's URL): only from listed hosts,
 * never to a private address, no redirects, and the byte limit enforced while the bytes arrive.
 */

/** Which URLs may be fetched, and how. */
export interface DownloadPolicy {
  /** Host names (or `host:port`) trusted for downloads. */
  hosts: readonly string[];
  /**
   * Fetch from loopback and private networks too. Off in production: a URL from a chat must never
   * make the bot reach into its own network. Tests turn it on for their loopback servers.
   */
  allowPrivateAddresses?: boolean;
  timeoutMs?: number;
}

/** The first 96 bits zero: an IPv4-compatible IPv6 address (`::7f00:1`), deprecated and never a public host. */
const isIpv4Compatible = (address: ipaddr.IPv6) => address.parts.slice(0, 6).every((part) => part === 0);

/**
 * Pure: whether an IP address is one a download must not reach. Only global unicast passes, by
 * ipaddr.js's table of special ranges (private, loopback, link-local, CGNAT, 6to4, Teredo, NAT64,
 * discard, documentation, reserved…); an IPv4-mapped address counts as its IPv4.
 */
export function isPrivateAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return true; // not an address at all: refuse
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  if (parsed.kind() === 'ipv6' && isIpv4Compatible(parsed as ipaddr.IPv6)) return true;
  return parsed.range() !== 'unicast';
}

/** Pure: the URL when it may be downloaded under `policy` (https, or http only for an explicitly listed `host:port`), else undefined. */
export function allowedUrl(raw: string, policy: Pick<DownloadPolicy, 'hosts'>): URL | undefined {
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
    super('download host resolves to a private address');
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

/** A bad download, in the words the user reads: "photo N seems damaged or incomplete, send it again". */
const unreadable = (why: string) => new AppError('CORRUPT_IMAGE', why);

/**
 * The bytes at `raw` under `policy`, at most `maxBytes` (FILE_TOO_LARGE as soon as more arrive, or
 * when the server announces more). Errors never quote the URL (a CDN's query carries its signature);
 * network trouble is an error with a code, which the command layer reads as "temporarily unavailable".
 */
export async function safeDownload(raw: string, maxBytes: number, policy: DownloadPolicy): Promise<Buffer> {
  const url = allowedUrl(raw, policy);
  if (!url) throw unreadable('URL not on a trusted host');
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(literal) && !policy.allowPrivateAddresses && isPrivateAddress(literal)) throw unreadable('URL is a private address');
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const signal = AbortSignal.timeout(policy.timeoutMs ?? 30_000);
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(url, { method: 'GET', lookup: guardedLookup(policy.allowPrivateAddresses ?? false), signal, headers: { accept: 'image/*' } }, resolve);
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error instanceof RefusedAddressError) return reject(unreadable(error.message));
      reject(Object.assign(new Error(`download failed (${error.code ?? error.name})`), { code: error.code ?? 'ECONNRESET' }));
    });
    req.end();
  });
  try {
    if (response.statusCode !== 200) throw unreadable(`download answered HTTP ${response.statusCode}`);
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) throw new AppError('FILE_TOO_LARGE', 'content-length exceeds limit', { details: { max: maxBytes } });
    return await readLimited(response, maxBytes).catch((error: unknown) => {
      if (error instanceof AppError) throw error;
      throw Object.assign(new Error('download was cut off'), { code: 'ECONNRESET' });
    });
  } finally {
    response.destroy();
  }
}
