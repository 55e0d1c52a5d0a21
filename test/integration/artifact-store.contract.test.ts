import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactNotFoundError, type ArtifactStore } from '../../src/storage/artifact-store.js';
import { createFsStore } from '../../src/storage/fs.store.js';
import { createS3Store } from '../../src/storage/s3.store.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';

/** One adapter under test: a fresh, empty store per test and a way to tear it down. */
interface Adapter {
  name: string;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  fresh(): Promise<{ store: ArtifactStore; dispose(): Promise<void> }>;
  /** Readers racing an overwrite see one whole version: the adapter's promise, not every server's (see below). */
  atomicUnderConcurrentReads: boolean;
}

const fsAdapter: Adapter = {
  name: 'filesystem',
  setUp: async () => undefined,
  tearDown: async () => undefined,
  async fresh() {
    const root = await mkdtemp(join(tmpdir(), 'likeness-store-'));
    return { store: createFsStore(root), dispose: () => rm(root, { recursive: true, force: true }) };
  },
  atomicUnderConcurrentReads: true,
};

let s3: TestS3Server;
const s3Adapter: Adapter = {
  name: 's3 (s3rver on loopback)',
  async setUp() {
    s3 = await startS3Server();
  },
  tearDown: () => s3.close(),
  async fresh() {
    const bucket = await s3.createBucket();
    // pageSize 3: deletePrefix of a few keys already walks several listing pages.
    const store = createS3Store({ bucket, endpoint: s3.endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true, pageSize: 3 });
    return { store, dispose: async () => store.close() };
  },
  // S3 replaces an object whole on PUT; s3rver (a test double) writes its file in place, so a
  // concurrent reader of s3rver can see a torn object that real S3 would never serve.
  atomicUnderConcurrentReads: false,
};

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const readAll = async (body: Readable): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

describe.each([fsAdapter, s3Adapter])('artifact store contract: $name', (adapter) => {
  let store: ArtifactStore;
  let dispose: () => Promise<void>;
  beforeAll(() => adapter.setUp(), 30_000);
  afterAll(() => adapter.tearDown());
  beforeEach(async () => {
    ({ store, dispose } = await adapter.fresh());
  });
  afterEach(() => dispose());

  it('returns exactly the bytes it was given, every byte value included', async () => {
    const bytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(4096)]);
    await store.put('results/job-1/0.jpg', bytes);
    expect((await store.get('results/job-1/0.jpg')).equals(bytes)).toBe(true);
    expect(await store.exists('results/job-1/0.jpg')).toBe(true);
  });

  it('overwrites a key whole: a shorter object leaves no tail of the longer one', async () => {
    await store.put('results/job-1/0.jpg', Buffer.alloc(100_000, 'a'));
    await store.put('results/job-1/0.jpg', Buffer.from('second'));
    expect((await store.get('results/job-1/0.jpg')).toString()).toBe('second');
    await store.put('results/job-1/0.jpg', Buffer.from('second')); // the same bytes again is harmless
    expect((await store.get('results/job-1/0.jpg')).toString()).toBe('second');
  });

  it.runIf(adapter.atomicUnderConcurrentReads)('readers racing overwrites see one whole version, never a mix', async () => {
    const versions = [Buffer.alloc(2_000_000, 'a'), Buffer.alloc(1_000_000, 'b')];
    await store.put('results/job-1/0.jpg', versions[0]!);
    const writes = Array.from({ length: 10 }, (_, i) => store.put('results/job-1/0.jpg', versions[i % 2]!));
    const reads = Array.from({ length: 30 }, () => store.get('results/job-1/0.jpg'));
    await Promise.all(writes);
    for (const read of await Promise.all(reads)) expect(versions.some((v) => v.equals(read))).toBe(true);
  });

  it('a missing key: get rejects with ArtifactNotFoundError naming it, exists is false', async () => {
    const error = await store.get('results/nothing/0.jpg').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactNotFoundError);
    expect((error as ArtifactNotFoundError).key).toBe('results/nothing/0.jpg');
    expect(await store.exists('results/nothing/0.jpg')).toBe(false);
  });

  it('stat and getStream: the size without reading, the bytes as a stream; a missing key rejects with ArtifactNotFoundError before any byte', async () => {
    const bytes = randomBytes(200_000);
    await store.put('results/job-1/0.jpg', bytes);
    expect(await store.stat('results/job-1/0.jpg')).toEqual({ size: bytes.byteLength });
    const opened = await store.getStream('results/job-1/0.jpg');
    expect(opened.size).toBe(bytes.byteLength);
    expect((await readAll(opened.body)).equals(bytes)).toBe(true);

    for (const missing of [() => store.stat('results/nothing/0.jpg'), () => store.getStream('results/nothing/0.jpg')]) {
      const error = await missing().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ArtifactNotFoundError);
      expect((error as ArtifactNotFoundError).key).toBe('results/nothing/0.jpg');
    }
  });

  it('getStream reads only as fast as it is consumed, and can be dropped half-read', async () => {
    await store.put('results/job-big/0.jpg', randomBytes(8 * 1024 * 1024));
    const { body } = await store.getStream('results/job-big/0.jpg');
    const first = await new Promise<Buffer>((resolve) => body.once('data', (chunk: Buffer) => (body.pause(), resolve(chunk))));
    expect(first.byteLength).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Paused: what it holds is a buffer's worth, not the object.
    expect(body.readableLength).toBeLessThan(1024 * 1024);
    const closed = new Promise((resolve) => body.once('close', resolve));
    body.destroy();
    await closed;
  });

  it('delete removes a key; deleting a missing key is fine', async () => {
    await store.put('inputs/job-1/0.jpg', Buffer.from('x'));
    await store.delete('inputs/job-1/0.jpg');
    expect(await store.exists('inputs/job-1/0.jpg')).toBe(false);
    await expect(store.get('inputs/job-1/0.jpg')).rejects.toBeInstanceOf(ArtifactNotFoundError);
    await store.delete('inputs/job-1/0.jpg');
    await store.delete('inputs/never/0.jpg');
  });

  it('deletePrefix removes that folder only (not a sibling sharing its first letters), page after page, and can be written again', async () => {
    // Seven keys: more than one listing page for the S3 store (3 keys a page here).
    const mine = Array.from({ length: 7 }, (_, i) => `inputs/job-2/${i}.jpg`);
    const others = ['inputs/job-22/0.jpg', 'inputs/job-3/0.jpg', 'results/job-2/0.jpg'];
    await Promise.all([...mine, ...others].map((key) => store.put(key, Buffer.from(key))));
    await store.deletePrefix('inputs/job-2/');
    for (const key of mine) expect(await store.exists(key), key).toBe(false);
    for (const key of others) expect((await store.get(key)).toString(), key).toBe(key);

    await store.deletePrefix('inputs/job-2/'); // again, nothing left: fine
    await store.deletePrefix('inputs/job-3'); // without the trailing slash: the same folder
    expect(await store.exists('inputs/job-3/0.jpg')).toBe(false);
    expect(await store.exists('inputs/job-22/0.jpg')).toBe(true);

    await store.put('inputs/job-2/0.jpg', Buffer.from('again'));
    expect((await store.get('inputs/job-2/0.jpg')).toString()).toBe('again');
  });

  it('refuses keys that are not relative, slash-separated and non-climbing, in every method', async () => {
    const bad = ['../etc/passwd', 'inputs/../../x', '/abs/path', 'inputs//x', '', 'inputs/./x', 'in puts/x'];
    for (const key of bad) {
      await expect(store.put(key, Buffer.from('x')), key).rejects.toThrow(/invalid artifact key/);
      await expect(store.get(key), key).rejects.toThrow(/invalid artifact key/);
      await expect(store.exists(key), key).rejects.toThrow(/invalid artifact key/);
      await expect(store.stat(key), key).rejects.toThrow(/invalid artifact key/);
      await expect(store.getStream(key), key).rejects.toThrow(/invalid artifact key/);
      await expect(store.delete(key), key).rejects.toThrow(/invalid artifact key/);
    }
    for (const prefix of ['../', '/', '', 'inputs/../']) await expect(store.deletePrefix(prefix), prefix).rejects.toThrow(/invalid artifact key/);
  });

  it('round-trips a 30 MB object intact', async () => {
    const big = randomBytes(30 * 1024 * 1024);
    await store.put('results/job-big/0.jpg', big);
    const back = await store.get('results/job-big/0.jpg');
    expect(back.byteLength).toBe(big.byteLength);
    expect(sha(back)).toBe(sha(big));
    const streamed = await store.getStream('results/job-big/0.jpg');
    expect(streamed.size).toBe(big.byteLength);
    expect(sha(await readAll(streamed.body))).toBe(sha(big));
  }, 60_000);
});

describe('filesystem store specifics', () => {
  let root: string;
  let store: ArtifactStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'likeness-store-'));
    store = createFsStore(root);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('leaves no temporary files beside an overwritten object', async () => {
    await store.put('results/job-1/0.jpg', Buffer.from('first'));
    await store.put('results/job-1/0.jpg', Buffer.from('second'));
    expect(await readdir(join(root, 'results/job-1'))).toEqual(['0.jpg']);
  });

  it('recovers when another process removed a folder it had made', async () => {
    await store.put('results/job-4/0.jpg', Buffer.from('x'));
    await rm(join(root, 'results/job-4'), { recursive: true });
    await store.put('results/job-4/1.jpg', Buffer.from('y'));
    expect((await store.get('results/job-4/1.jpg')).toString()).toBe('y');
  });
});
