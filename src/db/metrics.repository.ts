import { sql } from 'drizzle-orm';
import type pg from 'pg';
import type { DbOrTx } from './client.js';
import { jobs } from './schema.js';

/** Cluster-wide totals for `/metrics`, read at scrape time: every process and worker writes to the same rows. */
export interface MetricTotals {
  /** Jobs by kind and status (every status, finished or not). */
  jobs: Array<{ kind: string; status: string; count: number }>;
  /** GPU seconds and cost of every job that recorded them, by the backend that ran it. */
  backends: Array<{ backend: string; gpuSeconds: number; costUsd: number }>;
}

/** Two small aggregates over `jobs`; rows are never deleted (/forget detaches them), so the sums only grow. */
export async function metricTotals(db: DbOrTx): Promise<MetricTotals> {
  const [byKind, byBackend] = await Promise.all([
    db.execute<{ kind: string; status: string; n: number }>(sql`select kind, status, count(*)::int as n from ${jobs} group by kind, status`),
    db.execute<{ backend: string; gpu: number | string | null; cost: string | null }>(
      sql`select backend, sum(gpu_seconds) as gpu, sum(cost_usd) as cost from ${jobs} where backend is not null group by backend`,
    ),
  ]);
  return {
    jobs: byKind.rows.map((r) => ({ kind: r.kind, status: r.status, count: Number(r.n) })),
    backends: byBackend.rows.map((r) => ({ backend: r.backend, gpuSeconds: Number(r.gpu ?? 0), costUsd: Number(r.cost ?? 0) })),
  };
}

/**
 * Asks Postgres for `select 1` through the app's own pool (what requests use). pg itself gives up
 * after `timeoutMs` (`query_timeout`), so a connection that hangs rejects instead of waiting forever.
 */
export async function pingDatabase(pool: pg.Pool, timeoutMs: number): Promise<void> {
  // `query_timeout` is honoured by pg per query but missing from @types/pg's QueryConfig.
  await pool.query({ text: 'select 1', query_timeout: timeoutMs } as pg.QueryConfig);
}
