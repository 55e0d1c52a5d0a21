import { sql } from 'drizzle-orm';
import type { DbOrTx } from './client.js';
import type { UsageLine, UsageReport } from '../bots/core/repositories.js';
import { identities, jobs } from './schema.js';

type Row = { key: string | null; jobs: number; gpu: string | null; cost: string | null };
const toLine = (r: Row): UsageLine => ({ key: r.key ?? 'none', jobs: Number(r.jobs), gpuSeconds: Number(r.gpu ?? 0), costUsd: Number(r.cost ?? 0) });

/** Usage of the jobs created since `since`, in four small aggregate queries over the `jobs` table. */
export async function usageReport(db: DbOrTx, since: Date, topUsers = 5): Promise<UsageReport> {
  const from = sql`${since.toISOString()}::timestamptz`;
  const aggregate = sql`count(*)::int as jobs, sum(gpu_seconds) as gpu, sum(cost_usd) as cost`;
  const [status, days, backends, users] = await Promise.all([
    db.execute<Row>(sql`select status as key, ${aggregate} from ${jobs} where created_at >= ${from} group by status`),
    db.execute<Row>(sql`
      select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as key, ${aggregate}
      from ${jobs} where created_at >= ${from} group by 1 order by 1 desc`),
    db.execute<Row>(sql`
      select coalesce(backend, 'not started') as key, ${aggregate}
      from ${jobs} where created_at >= ${from} group by 1 order by sum(cost_usd) desc nulls last, count(*) desc`),
    db.execute<Row>(sql`
      select coalesce((
               select i.platform || ':' || i.platform_user_id || coalesce(' (' || i.display_name || ')', '')
               from ${identities} i where i.account_id = j.account_id order by i.id limit 1
             ), 'forgotten') as key, ${aggregate}
      from ${jobs} j where created_at >= ${from}
      group by j.account_id order by sum(cost_usd) desc nulls last, count(*) desc limit ${topUsers}`),
  ]);
  const statusLines = status.rows.map(toLine);
  return {
    byStatus: Object.fromEntries(statusLines.map((l) => [l.key, l.jobs])),
    total: statusLines.reduce((sum, l) => ({ key: 'total', jobs: sum.jobs + l.jobs, gpuSeconds: sum.gpuSeconds + l.gpuSeconds, costUsd: sum.costUsd + l.costUsd }), {
      key: 'total',
      jobs: 0,
      gpuSeconds: 0,
      costUsd: 0,
    }),
    byDay: days.rows.map(toLine),
    byBackend: backends.rows.map(toLine),
    topUsers: users.rows.map(toLine),
  };
}
