/** Throwaway infrastructure for one bench run: a fresh database, a queue prefix, a data folder. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { prepareDatabase } from '../src/db/client.js';

export const SERVER_URL = process.env.BENCH_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${SERVER_URL}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface BenchInfra {
  runId: string;
  databaseName: string;
  databaseUrl: string;
  queuePrefix: string;
  dataDir: string;
  /** Drops the database, deletes the prefix's Redis keys and the data folder. Safe to call twice. */
  cleanup(): Promise<void>;
}

/** `dataRoot`: where the run's DATA_DIR (fs artifact store) is made; the OS temp folder by default. */
export async function createInfra(options: { dataRoot?: string } = {}): Promise<BenchInfra> {
  const runId = randomBytes(5).toString('hex');
  const dbName = `likeness_bench_${runId}`;
  await adminQuery(`create database ${dbName}`);
  const databaseUrl = `${SERVER_URL}/${dbName}`;
  const queuePrefix = `likeness-bench-${runId}`;
  const dataDir = await mkdtemp(join(options.dataRoot ?? tmpdir(), 'likeness-bench-'));
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await Promise.allSettled([
      adminQuery(`drop database if exists ${dbName} with (force)`),
      clearQueuePrefix(queuePrefix),
      rm(dataDir, { recursive: true, force: true }),
    ]);
  };
  try {
    await prepareDatabase(databaseUrl);
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { runId, databaseName: dbName, databaseUrl, queuePrefix, dataDir, cleanup };
}

export async function clearQueuePrefix(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}
