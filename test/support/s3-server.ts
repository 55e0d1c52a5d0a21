import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, ListObjectsCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

// The SDK's documented switch for its "Node >= 22 from January 2027" notice (aws/aws-sdk-js-v3#7983),
// so test output shows only what the tests say. Only that notice; other warnings still print.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export interface TestS3Server {
  endpoint: string;
  bucket: string;
  /** The folder s3rver keeps its objects in. */
  directory: string;
  /** What `createTestApp` needs to run on this bucket (STORAGE=s3 …). */
  env: Record<string, string>;
  /** Every key in a bucket (default: the first one), read with a plain S3 client, not the store under test. */
  listAll(bucket?: string): Promise<string[]>;
  /** Makes another, empty bucket and returns its name. */
  createBucket(): Promise<string>;
  close(): Promise<void>;
}

/** An S3-compatible server (s3rver) on a free loopback port, keeping objects in a temporary folder. */
export async function startS3Server(bucket = 'likeness-test'): Promise<TestS3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'likeness-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  // s3rver's fixed credentials.
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  let buckets = 0;
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  return {
    endpoint,
    bucket,
    directory,
    env: {
      STORAGE: 's3',
      S3_ENDPOINT: endpoint,
      S3_BUCKET: bucket,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      S3_FORCE_PATH_STYLE: '1',
    },
    async listAll(name = bucket) {
      const keys: string[] = [];
      // V1 listing by Marker: s3rver's V2 continuation tokens need a cipher OpenSSL 3 dropped.
      for (;;) {
        const page = await client.send(new ListObjectsCommand({ Bucket: name, Marker: keys.at(-1) }));
        const found = (page.Contents ?? []).map((o) => o.Key!);
        keys.push(...found);
        if (!page.IsTruncated || found.length === 0) break;
      }
      return keys.sort();
    },
    async createBucket() {
      const name = `${bucket}-${++buckets}`;
      await client.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    async close() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
