/**
 * Signed, expiring downloads (`/files/<token>`): the token format on its own, then the route over
 * real HTTP with the app's artifact store and the results of a real job, a clock the test moves,
 * and the link secret shared through Redis when LINK_SECRET is unset. A link, even one minted
 * with the secret, serves only live results, streamed: slow readers hold no file in memory.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import type { ReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedLinks } from '../../src/bots/core/deliverer.js';
import { attachmentDisposition, createSignedLinks } from '../../src/http/file-downloads.js';
import { signFileToken, verifyFileToken, type FileClaim } from '../../src/http/file-token.js';
import { registerOperations, type Operations } from '../../src/http/operations.js';
import { createHttpServer, type HttpServer, type HttpServerLimits } from '../../src/http/server.js';
import { getJob } from '../../src/db/jobs.repository.js';
import { purgeExpiredResultsBatch } from '../../src/db/retention.repository.js';
import { resultsOfJob } from '../../src/db/results.repository.js';
import { createLogger } from '../../src/logger.js';
import type { ArtifactStore } from '../../src/storage/artifact-store.js';
import { agree, bufferSource, chatRequest, createTestApp, eventually, REDIS_URL, type TestApp } from '../support/test-app.js';

const HOUR_MS = 3600_000;

/** base64url text with one character replaced by another valid one. */
const flip = (text: string, index: number) => text.slice(0, index) + (text[index] === 'A' ? 'B' : 'A') + text.slice(index + 1);
const encodeClaim = (claim: object) => Buffer.from(JSON.stringify(claim), 'utf8').toString('base64url');

describe('file tokens', () => {
  const secret = randomBytes(32);
  const claim: FileClaim = { artifactKey: 'results/0b6c/3.jpg', filename: 'likeness-8k.jpg', expiresAt: 1_900_000_000 };
  const now = (claim.expiresAt - 60) * 1000;

  it('verify while valid, and say expired once the time has passed (not before)', () => {
    const token = signFileToken(secret, claim);
    expect(verifyFileToken(secret, token, now)).toEqual({ ok: true, claim });
    expect(verifyFileToken(secret, token, claim.expiresAt * 1000 - 1)).toEqual({ ok: true, claim });
    expect(verifyFileToken(secret, token, claim.expiresAt * 1000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuse any change to any part: the key, the file name, the expiry, the MAC, or another secret', () => {
    const token = signFileToken(secret, claim);
    const [payload, mac] = token.split('.') as [string, string];
    const forged = (t: string, at = now) => verifyFileToken(secret, t, at);
    // The claim re-encoded with one field changed, under the original MAC.
    expect(forged(`${encodeClaim({ k: 'results/other/0.jpg', f: claim.filename, e: claim.expiresAt })}.${mac}`)).toEqual({ ok: false, reason: 'forged' });
    expect(forged(`${encodeClaim({ k: claim.artifactKey, f: 'x.html', e: claim.expiresAt })}.${mac}`)).toEqual({ ok: false, reason: 'forged' });
    // A later expiry is a forgery, even after the real expiry has passed (never "expired").
    expect(forged(`${encodeClaim({ k: claim.artifactKey, f: claim.filename, e: claim.expiresAt + 3600 })}.${mac}`, (claim.expiresAt + 60) * 1000)).toEqual({ ok: false, reason: 'forged' });
    // Every single character of the token, payload and MAC alike, including the last one (whose
    // low bits base64 decoding would ignore).
    for (let i = 0; i < token.length; i++) {
      if (token[i] === '.') continue;
      expect(forged(flip(token, i)), `character ${i}`).toEqual({ ok: false, reason: 'forged' });
    }
    // The MAC's last character carries 4 bits of the MAC and 2 spare bits that base64 decoding
    // drops: changing only a spare bit must still be refused.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const spareBitChanged = mac.slice(0, -1) + alphabet[alphabet.indexOf(mac.at(-1)!) ^ 1];
    expect(Buffer.from(spareBitChanged, 'base64url').equals(Buffer.from(mac, 'base64url'))).toBe(true);
    expect(forged(`${payload}.${spareBitChanged}`)).toEqual({ ok: false, reason: 'forged' });
    expect(forged(`${payload}.${mac}A`)).toEqual({ ok: false, reason: 'forged' });
    expect(forged(`${payload}.${mac.slice(0, -1)}`)).toEqual({ ok: false, reason: 'forged' });
    expect(forged(payload)).toEqual({ ok: false, reason: 'forged' });
    expect(forged('')).toEqual({ ok: false, reason: 'forged' });
    expect(verifyFileToken(randomBytes(32), token, now)).toEqual({ ok: false, reason: 'forged' });
    // The secret is not in the token in any form.
    expect(token).not.toContain(secret.toString('base64url'));
    expect(token).not.toContain(secret.toString('hex'));
  });

  it('make an attachment header that is safe whatever the name', () => {
    expect(attachmentDisposition('likeness-8k.jpg')).toBe(`attachment; filename="likeness-8k.jpg"; filename*=UTF-8''likeness-8k.jpg`);
    expect(attachmentDisposition('a"b\r\nc é.jpg')).toBe(`attachment; filename="a_b_c_.jpg"; filename*=UTF-8''a%22b%0D%0Ac%20%C3%A9.jpg`);
  });
});

describe('/files/<token>', () => {
  let t: TestApp;
  let redis: Redis;
  let ops: Operations;
  let base: string;
  let clock = Date.parse('2026-03-01T12:00:00Z');
  const lines: string[] = [];
  const stored = randomBytes(300_000);
  /** The stored results and the input photo of one real portrait job. */
  let keys: string[];
  let key: string;
  let inputKey: string;
  let jobId: string;
  /** What the route asked of the store. */
  const storeCalls = { get: 0, stat: 0, getStream: 0 };
  const opened: ReadStream[] = [];
  const servers: Array<{ http: HttpServer; ops: Operations }> = [];

  /** The operations routes of one bots process on its own port (PUBLIC_URL = that port), logging into `lines`. */
  async function botsProcess(env: Partial<TestApp['config']['http']> = {}, limits?: HttpServerLimits): Promise<{ http: HttpServer; ops: Operations; url: string }> {
    const server = createHttpServer({ logger: t.app.logger, limits });
    const port = await server.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${port}`;
    const logger = createLogger({ level: 'debug', destination: new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }) });
    const config = { ...t.config, http: { ...t.config.http, publicUrl: url, ...env } };
    const real = t.app.store;
    const store: ArtifactStore = {
      ...real,
      get: (k) => (storeCalls.get++, real.get(k)),
      stat: (k) => (storeCalls.stat++, real.stat(k)),
      getStream: async (k) => {
        storeCalls.getStream++;
        const stream = await real.getStream(k);
        opened.push(stream.body as ReadStream);
        return stream;
      },
    };
    const operations = registerOperations({ public: server, operations: server }, { app: { ...t.app, store, config, logger }, redis, now: () => clock });
    servers.push({ http: server, ops: operations });
    return { http: server, ops: operations, url };
  }

  beforeAll(async () => {
    t = await createTestApp({ FILE_LINK_TTL_HOURS: '24' });
    redis = new Redis(REDIS_URL);
    await agree(t.app);
    const photo = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));
    jobId = (await t.app.commands.handle(chatRequest({ photos: [bufferSource(photo)] }))).job!.id;
    t.app.startGpuWorker();
    await eventually(async () => (await getJob(t.app.database.db, jobId))?.status === 'succeeded');
    keys = (await resultsOfJob(t.app.database.db, jobId)).map((r) => r.artifactKey);
    key = keys[0]!;
    inputKey = `inputs/${jobId}/0.jpg`;
    expect(await t.app.store.exists(inputKey)).toBe(true);
    await t.app.store.put(key, stored);
    ({ ops, url: base } = await botsProcess());
  }, 30_000);
  afterAll(async () => {
    for (const server of servers) {
      await server.http.close();
      await server.ops.close();
    }
    await t.cleanup();
    redis.disconnect();
  });

  const tokenOf = (url: string) => url.slice(url.lastIndexOf('/') + 1);

  it('downloads the exact stored bytes as an attachment while valid; 410 once expired; 403 when altered', async () => {
    const url = (await ops.links.urlFor(key, 'likeness-8k.jpg'))!;
    expect(url.startsWith(`${base}/files/`)).toBe(true);

    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/jpeg');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="likeness-8k.jpg"; filename*=UTF-8''likeness-8k.jpg`);
    expect(response.headers.get('content-length')).toBe(String(stored.byteLength));
    expect(Buffer.from(await response.arrayBuffer()).equals(stored)).toBe(true);

    // Altered: the payload (the key, name or expiry inside it) or the MAC.
    const token = tokenOf(url);
    const dot = token.indexOf('.');
    for (const index of [0, Math.floor(dot / 2), dot - 1, dot + 1, token.length - 1]) {
      const altered = await fetch(`${base}/files/${flip(token, index)}`);
      expect(altered.status, `character ${index}`).toBe(403);
      expect(await altered.text()).toBe('This download link is not valid.');
    }
    expect((await fetch(`${base}/files/not-a-token`)).status).toBe(403);
    expect((await fetch(`${base}/files/`)).status).toBe(403);

    // Just before its 24 hours are up it still works; after, it has expired.
    clock += 24 * HOUR_MS - 1_000;
    expect((await fetch(url)).status).toBe(200);
    clock += 2_000;
    const expired = await fetch(url);
    expect(expired.status).toBe(410);
    expect(await expired.text()).toMatch(/expired/);
    // A fresh link works again.
    expect((await fetch((await ops.links.urlFor(key, 'likeness-8k.jpg'))!)).status).toBe(200);
  });

  it('answers HEAD from the size alone, reading none of the file', async () => {
    const url = (await ops.links.urlFor(key, 'likeness-8k.jpg'))!;
    const before = { ...storeCalls };
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(stored.byteLength));
    expect(storeCalls).toEqual({ ...before, stat: before.stat + 1 });
  });

  it('answers 404 with a plain message once the file is no longer stored', async () => {
    const url = (await ops.links.urlFor(keys[1]!, 'portrait.jpg'))!;
    await t.app.store.delete(keys[1]!);
    const response = await fetch(url);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toMatch(/no longer available/);
  });

  it('refuses a genuine link to an input photo, or to a stored file that no result row names', async () => {
    const toInput = (await ops.links.urlFor(inputKey, 'face.jpg'))!;
    const response = await fetch(toInput);
    expect(response.status).toBe(404);
    expect(await response.text()).toMatch(/no longer available/);
    expect((await fetch(toInput, { method: 'HEAD' })).status).toBe(404);

    const stray = `results/${jobId}/9.jpg`;
    await t.app.store.put(stray, randomBytes(100));
    expect((await fetch((await ops.links.urlFor(stray, 'x.jpg'))!)).status).toBe(404);
    expect(lines.join('')).toContain('a signed link names no downloadable result');
  });

  it('refuses a genuine link that claims a longer life than FILE_LINK_TTL_HOURS (minted with the secret from Redis)', async () => {
    await ops.links.urlFor(key, 'x.jpg'); // the secret exists
    const secret = Buffer.from((await redis.get(`${t.config.queuePrefix}:http:link-secret`))!, 'utf8');
    const inAYear = signFileToken(secret, { artifactKey: key, filename: 'x.jpg', expiresAt: Math.floor(clock / 1000) + 365 * 24 * 3600 });
    expect((await fetch(`${base}/files/${inAYear}`)).status).toBe(403);
    const withinTtl = signFileToken(secret, { artifactKey: key, filename: 'x.jpg', expiresAt: Math.floor(clock / 1000) + 23 * 3600 });
    expect((await fetch(`${base}/files/${withinTtl}`)).status).toBe(200);
  });

  it('streams a large file to slow readers with backpressure: 20 clients that never read hold no copy of it, and are dropped at the idle timeout', async () => {
    const big = randomBytes(20 * 1024 * 1024);
    await t.app.store.put(keys[2]!, big);
    const slow = await botsProcess({ downloadsPerAddress: 0 }, { idleTimeoutMs: 700 });
    const path = new URL((await slow.ops.links.urlFor(keys[2]!, 'big.jpg'))!).pathname;
    const first = opened.length;

    const sockets: Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const socket = connect(Number(new URL(slow.url).port), '127.0.0.1');
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      socket.pause(); // never reads
      sockets.push(socket);
    }
    try {
      const streams = await eventually(async () => (opened.length - first === 20 ? opened.slice(first) : undefined), 5_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const read = streams.map((stream) => stream.bytesRead);
      // Each stream stops once the socket's buffers are full: a few MB at most, never the 20 MB file.
      for (const bytes of read) expect(bytes).toBeLessThan(8 * 1024 * 1024);

      // The idle timeout closes the stalled sockets, and each file with its socket.
      const connections = () => new Promise<number>((resolve, reject) => slow.http.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
      await eventually(async () => streams.every((stream) => stream.destroyed) && (await connections()) === 0, 5_000);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  it('lets one address run DOWNLOADS_PER_ADDRESS downloads at once; one more gets 429', async () => {
    const limited = await botsProcess({ downloadsPerAddress: 2 }, { idleTimeoutMs: 2_000 });
    const path = new URL((await limited.ops.links.urlFor(keys[2]!, 'big.jpg'))!).pathname;
    const sockets: Socket[] = [];
    const first = opened.length;
    try {
      for (let i = 0; i < 2; i++) {
        const socket = connect(Number(new URL(limited.url).port), '127.0.0.1');
        socket.on('error', () => undefined);
        await once(socket, 'connect');
        socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
        socket.pause();
        sockets.push(socket);
      }
      await eventually(async () => opened.length - first === 2, 5_000);
      const third = await fetch(`${limited.url}${path}`);
      expect(third.status).toBe(429);
      expect(third.headers.get('retry-after')).toBe('10');
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    // Their slots are given back when they go.
    await eventually(async () => (await fetch(`${limited.url}${path}`, { method: 'HEAD' })).status === 200, 5_000);
  });

  it('shares one generated secret between processes through Redis, and never shows it, not even in the logs', async () => {
    const secretKey = `${t.config.queuePrefix}:http:link-secret`;
    const secret = await redis.get(secretKey);
    expect(secret).toMatch(/^[\w-]{43}$/); // 32 random bytes, made by the first link above

    // A second bots process (its own routes and memory, the same Redis) accepts the first one's link, and vice versa.
    const other = await botsProcess();
    const fromFirst = (await ops.links.urlFor(key, 'likeness-8k.jpg'))!;
    const onOther = await fetch(`${other.url}/files/${tokenOf(fromFirst)}`);
    expect(onOther.status).toBe(200);
    expect(Buffer.from(await onOther.arrayBuffer()).equals(stored)).toBe(true);
    const fromOther = (await other.ops.links.urlFor(key, 'x.jpg'))!;
    expect((await fetch(`${base}/files/${tokenOf(fromOther)}`)).status).toBe(200);
    expect(await redis.get(secretKey)).toBe(secret); // nobody replaced it

    // Nowhere to be seen: links, answers, logs (even where something logs it by mistake).
    for (const url of [fromFirst, fromOther]) expect(url).not.toContain(secret);
    const answers = await Promise.all([fetch(fromFirst), fetch(`${base}/files/${flip(tokenOf(fromFirst), 3)}`), fetch(`${base}/metrics`)]);
    for (const answer of answers) {
      expect(JSON.stringify([...answer.headers])).not.toContain(secret);
      expect(Buffer.from(await answer.arrayBuffer()).includes(Buffer.from(secret!))).toBe(false);
    }
    const logger = createLogger({ level: 'debug', destination: new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }) });
    const leaky = await (async () => {
      const server = createHttpServer({ logger });
      const config = { ...t.config, http: { ...t.config.http, publicUrl: 'https://example.org' } };
      const operations = registerOperations({ public: server, operations: server }, { app: { ...t.app, config, logger }, redis });
      servers.push({ http: server, ops: operations });
      await operations.links.urlFor(key, 'x.jpg'); // reads the generated secret
      return logger;
    })();
    leaky.warn(`oops: ${secret}`);
    expect(lines.filter((l) => l.includes(secret!))).toEqual([]);
  });

  it('uses LINK_SECRET when set (links of the generated secret are then refused), and makes no link without PUBLIC_URL', async () => {
    const linkSecret = randomBytes(24).toString('base64url');
    const fixed = await botsProcess({ linkSecret });
    const url = (await fixed.ops.links.urlFor(key, 'likeness-8k.jpg'))!;
    expect((await fetch(url)).status).toBe(200);
    const generated = (await ops.links.urlFor(key, 'likeness-8k.jpg'))!;
    expect((await fetch(`${fixed.url}/files/${tokenOf(generated)}`)).status).toBe(403);
    expect(url).not.toContain(linkSecret);
    expect(lines.join('')).not.toContain(linkSecret);

    const secret = async () => randomBytes(32);
    const noUrl: SignedLinks = createSignedLinks({ secret, ttlHours: 1 });
    expect(await noUrl.urlFor(key, 'a.jpg')).toBeUndefined();
    const below = createSignedLinks({ secret, publicUrl: 'https://example.org/likeness', ttlHours: 1 });
    expect(await below.urlFor(key, 'a.jpg')).toMatch(/^https:\/\/example\.org\/likeness\/files\/[\w-]+\.[\w-]{43}$/);
  });

  it('refuses a link to a result once retention has purged it, even while its file is still there', async () => {
    const url = (await ops.links.urlFor(key, 'likeness-8k.jpg'))!;
    expect((await fetch(url)).status).toBe(200);
    await purgeExpiredResultsBatch(t.app.database.db, new Date(Date.now() + HOUR_MS), 100, async () => undefined);
    expect(await t.app.store.exists(key)).toBe(true);
    expect((await fetch(url)).status).toBe(404);
  });
});
