import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { ArtifactNotFoundError, assertValidKey, type ArtifactStore } from './artifact-store.js';

/** Where the bucket is and how to reach it: AWS itself, or any S3-compatible server (MinIO, R2, Ceph, …). */
export interface S3StoreOptions {
  bucket: string;
  /** Base URL of a non-AWS server; unset means AWS for `region`. */
  endpoint?: string;
  /** Default `us-east-1` (what most S3-compatible servers expect when they ignore regions). */
  region?: string;
  /** Both or neither; neither means the SDK's default chain (env, instance role, …). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** `http://host/bucket/key` instead of `http://bucket.host/key`: what most self-hosted servers need. */
  forcePathStyle: boolean;
  /** Keys listed (and then deleted in one request) per page by `deletePrefix`; S3 allows at most 1000. */
  pageSize?: number;
}

/** An {@link ArtifactStore} in an S3 bucket; `close()` releases its connections. */
export type S3Store = ArtifactStore & { close(): void };

const MAX_PAGE = 1000;

const statusOf = (error: unknown): number | undefined => (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
const isMissing = (error: unknown): boolean => {
  const name = (error as { name?: string }).name;
  return name === 'NoSuchKey' || name === 'NotFound' || statusOf(error) === 404;
};

/**
 * An {@link ArtifactStore} on S3 or an S3-compatible server. A PUT replaces an object whole, so
 * readers never see half of one; `deletePrefix` lists the folder page by page and deletes each page
 * with one multi-object delete. Keys are checked like the filesystem store's, so both accept the same.
 */
export function createS3Store(options: S3StoreOptions): S3Store {
  const Bucket = options.bucket;
  const pageSize = Math.min(MAX_PAGE, Math.max(1, options.pageSize ?? MAX_PAGE));
  const client = new S3Client({
    endpoint: options.endpoint,
    region: options.region ?? 'us-east-1',
    forcePathStyle: options.forcePathStyle,
    credentials: options.accessKeyId && options.secretAccessKey ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } : undefined,
    // Checksums only where S3 requires them (multi-object delete): several S3-compatible servers
    // reject the newer default (CRC headers or trailers on every upload and download).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const checked = (key: string) => {
    assertValidKey(key);
    return key;
  };

  const deleteKeys = async (keys: string[]) => {
    const result = await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
    const failed = result.Errors ?? [];
    if (failed.length > 0) {
      const first = failed[0]!;
      throw new Error(`could not delete ${failed.length} of ${keys.length} objects (first: ${first.Key}: ${first.Code} ${first.Message ?? ''})`.trim());
    }
  };

  return {
    async put(key, bytes) {
      await client.send(
        new PutObjectCommand({ Bucket, Key: checked(key), Body: bytes, ContentLength: bytes.byteLength, ContentType: key.endsWith('.jpg') ? 'image/jpeg' : 'application/octet-stream' }),
      );
    },
    async get(key) {
      try {
        const response = await client.send(new GetObjectCommand({ Bucket, Key: checked(key) }));
        if (!response.Body) throw new ArtifactNotFoundError(key);
        const bytes = await response.Body.transformToByteArray();
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      } catch (error) {
        if (isMissing(error)) throw new ArtifactNotFoundError(key);
        throw error;
      }
    },
    async stat(key) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket, Key: checked(key) }));
        return { size: head.ContentLength ?? 0 };
      } catch (error) {
        if (isMissing(error)) throw new ArtifactNotFoundError(key);
        throw error;
      }
    },
    async getStream(key) {
      let response;
      try {
        response = await client.send(new GetObjectCommand({ Bucket, Key: checked(key) }));
      } catch (error) {
        if (isMissing(error)) throw new ArtifactNotFoundError(key);
        throw error;
      }
      // In Node the SDK's body is the HTTP response itself: it is read as it is consumed.
      if (!(response.Body instanceof Readable)) {
        (response.Body as { destroy?: () => void } | undefined)?.destroy?.();
        throw new ArtifactNotFoundError(key);
      }
      return { size: response.ContentLength ?? 0, body: response.Body };
    },
    async exists(key) {
      try {
        await client.send(new HeadObjectCommand({ Bucket, Key: checked(key) }));
        return true;
      } catch (error) {
        // Only "not there" is false: a server that cannot answer must not pass for an empty bucket.
        if (isMissing(error)) return false;
        throw error;
      }
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: checked(key) }));
    },
    async deletePrefix(prefix) {
      // A folder, as in the filesystem store: `inputs/job-2/` never touches `inputs/job-22/`.
      const folder = `${checked(prefix.replace(/\/+$/, ''))}/`;
      // The original listing (V1, pages by Marker = the last key seen) rather than V2's continuation
      // tokens: every S3-compatible server speaks it, s3rver included, whose V2 tokens need a
      // cipher OpenSSL 3 no longer has.
      let after: string | undefined;
      for (;;) {
        const page = await client.send(new ListObjectsCommand({ Bucket, Prefix: folder, MaxKeys: pageSize, Marker: after }));
        const keys = (page.Contents ?? []).flatMap((object) => (object.Key ? [object.Key] : []));
        if (keys.length > 0) await deleteKeys(keys);
        if (!page.IsTruncated || keys.length === 0) break;
        after = keys[keys.length - 1];
      }
    },
    close() {
      client.destroy();
    },
  };
}
