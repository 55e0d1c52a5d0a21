import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactNotFoundError, type ArtifactStore } from '../../src/storage/artifact-store.js';
import { createFsStore } from '../../src/storage/fs.store.js';

describe('filesystem artifact store', () => {
  let root: string;
  let store: ArtifactStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'likeness-store-'));
    store = createFsStore(root);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('stores, reads, overwrites and deletes by key, leaving no temporary files', async () => {
    await store.put('results/job-1/0.jpg', Buffer.from('first'));
    await store.put('results/job-1/0.jpg', Buffer.from('second'));
    expect((await store.get('results/job-1/0.jpg')).toString()).toBe('second');
    expect(await store.exists('results/job-1/0.jpg')).toBe(true);
    expect(await readdir(join(root, 'results/job-1'))).toEqual(['0.jpg']);
    await store.delete('results/job-1/0.jpg');
    await store.delete('results/job-1/0.jpg'); // deleting twice is fine
    expect(await store.exists('results/job-1/0.jpg')).toBe(false);
    await expect(store.get('results/job-1/0.jpg')).rejects.toBeInstanceOf(ArtifactNotFoundError);
  });

  it('deletes a whole prefix, and can write there again afterwards', async () => {
    await store.put('inputs/job-2/0.jpg', Buffer.from('a'));
    await store.put('inputs/job-2/1.jpg', Buffer.from('b'));
    await store.put('inputs/job-3/0.jpg', Buffer.from('c'));
    await store.deletePrefix('inputs/job-2/');
    expect(await store.exists('inputs/job-2/0.jpg')).toBe(false);
    expect(await store.exists('inputs/job-3/0.jpg')).toBe(true);
    await store.put('inputs/job-2/0.jpg', Buffer.from('again'));
    expect((await store.get('inputs/job-2/0.jpg')).toString()).toBe('again');
  });

  it('recovers when another process removed a folder it had made', async () => {
    await store.put('results/job-4/0.jpg', Buffer.from('x'));
    await rm(join(root, 'results/job-4'), { recursive: true });
    await store.put('results/job-4/1.jpg', Buffer.from('y'));
    expect((await store.get('results/job-4/1.jpg')).toString()).toBe('y');
  });

  it('refuses keys that climb out of its folder', async () => {
    for (const key of ['../etc/passwd', 'inputs/../../x', '/abs/path', 'inputs//x', '']) {
      await expect(store.put(key, Buffer.from('x')), key).rejects.toThrow(/invalid artifact key/);
    }
  });
});
