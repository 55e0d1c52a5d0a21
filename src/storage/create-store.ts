import { join } from 'node:path';
import type { Config } from '../config.js';
import type { ArtifactStore } from './artifact-store.js';
import { createFsStore } from './fs.store.js';
import { createS3Store } from './s3.store.js';

/** The store `STORAGE` names: a folder under `DATA_DIR` (fs) or a bucket (s3). */
export function createStore(config: Pick<Config, 'storage' | 'dataDir'>): ArtifactStore {
  const storage = config.storage;
  if (storage.kind === 's3') return createS3Store(storage);
  return createFsStore(join(config.dataDir, 'artifacts'));
}
