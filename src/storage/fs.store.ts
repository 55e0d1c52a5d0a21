import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ArtifactNotFoundError, assertValidKey, type ArtifactStore } from './artifact-store.js';

/** An {@link ArtifactStore} in a local folder (`DATA_DIR/artifacts`); fine for one machine or a shared volume. */
export function createFsStore(root: string): ArtifactStore {
  const base = resolve(root);
  // Folders known to exist: a job writes several files into one, and mkdir is a syscall each time.
  const made = new Set<string>();
  const ensureDir = async (dir: string) => {
    if (made.has(dir)) return;
    await mkdir(dir, { recursive: true });
    made.add(dir);
    if (made.size > 10_000) made.clear();
  };
  const pathOf = (key: string) => {
    assertValidKey(key);
    return join(base, key);
  };

  const notFoundAs = (key: string) => (error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new ArtifactNotFoundError(key);
    throw error;
  };

  return {
    async put(key, bytes) {
      const path = pathOf(key);
      const dir = dirname(path);
      // Write beside, then rename: readers never see half a file.
      const temp = `${path}.${randomUUID()}.tmp`;
      await ensureDir(dir);
      await writeFile(temp, bytes).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
        made.delete(dir); // removed by another process since we made it
        await ensureDir(dir);
        await writeFile(temp, bytes);
      });
      await rename(temp, path);
    },
    async get(key) {
      try {
        return await readFile(pathOf(key));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ArtifactNotFoundError(key);
        throw error;
      }
    },
    async stat(key) {
      const found = await stat(pathOf(key)).catch(notFoundAs(key));
      return { size: found.size };
    },
    async getStream(key) {
      // Size and bytes from one open file: a rename (an overwrite) after this cannot mix versions.
      const handle = await open(pathOf(key), 'r').catch(notFoundAs(key));
      try {
        const { size } = await handle.stat();
        return { size, body: handle.createReadStream({ autoClose: true }) };
      } catch (error) {
        await handle.close();
        throw error;
      }
    },
    async exists(key) {
      return stat(pathOf(key)).then(
        () => true,
        () => false,
      );
    },
    async delete(key) {
      await rm(pathOf(key), { force: true });
    },
    async deletePrefix(prefix) {
      const trimmed = prefix.replace(/\/+$/, '');
      const path = pathOf(trimmed);
      await rm(path, { recursive: true, force: true });
      for (const dir of made) if (dir === path || dir.startsWith(`${path}/`)) made.delete(dir);
    },
  };
}
