import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ArtifactNotFoundError, assertValidKey, type ArtifactStore } from './artifact-store.js';

/** An {@link ArtifactStore} in a local folder (`DATA_DIR/artifacts`); fine for one machine or a shared volume. */
export function createFsStore(root: string): ArtifactStore {
  const base = resolve(root);
  const pathOf = (key: string) => {
    assertValidKey(key);
    return join(base, key);
  };

  return {
    async put(key, bytes) {
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      // Write beside, then rename: readers never see half a file.
      const temp = `${path}.${randomUUID()}.tmp`;
      await writeFile(temp, bytes);
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
      await rm(pathOf(trimmed), { recursive: true, force: true });
    },
  };
}
