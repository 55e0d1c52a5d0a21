import type { Readable } from 'node:stream';

/**
 * Where photos and results live, by key (`inputs/<job>/0.jpg`, `results/<job>/2.jpg`).
 * `put` is atomic (a reader sees the whole object or none) and overwriting a key with the same
 * bytes is harmless, so a retried job may store its outputs again. `delete` of a missing key is not an error.
 */
export interface ArtifactStore {
  put(key: string, bytes: Buffer): Promise<void>;
  /** Rejects with {@link ArtifactNotFoundError} when the key holds nothing. */
  get(key: string): Promise<Buffer>;
  /** The object's size without reading it; rejects with {@link ArtifactNotFoundError} when the key holds nothing. */
  stat(key: string): Promise<ArtifactStat>;
  /**
   * The object as a stream that reads only as fast as it is consumed (for large downloads), with
   * its size; both describe one version of it. Rejects with {@link ArtifactNotFoundError} before any
   * byte is read when the key holds nothing. The caller must consume or destroy the stream.
   */
  getStream(key: string): Promise<ArtifactStream>;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Deletes every key under `prefix` (a folder-like `inputs/<job>/`). */
  deletePrefix(prefix: string): Promise<void>;
  /** Releases connections, for stores that hold some (S3); the store is not used afterwards. */
  close?(): void;
}

/** What {@link ArtifactStore.stat} knows of an object. */
export interface ArtifactStat {
  size: number;
}

/** An object opened for reading: its bytes, pulled on demand, and how many there are. */
export interface ArtifactStream extends ArtifactStat {
  body: Readable;
}

export class ArtifactNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`artifact not found: ${key}`);
    this.name = 'ArtifactNotFoundError';
  }
}

const KEY = /^[a-z0-9][\w-]*(\/[\w.-]+)*$/i;

/** Keys are relative, slash-separated and never climb (`..`); anything else is a bug, not user input. */
export function assertValidKey(key: string): void {
  if (!KEY.test(key) || key.split('/').some((part) => part === '.' || part === '..')) throw new Error(`invalid artifact key: ${key}`);
}

export const inputKey = (jobId: string, index: number): string => `inputs/${jobId}/${index}.jpg`;
export const resultKey = (jobId: string, variant: number): string => `results/${jobId}/${variant}.jpg`;
/** The folder of every output a job stored. */
export const resultPrefix = (jobId: string): string => `results/${jobId}/`;
