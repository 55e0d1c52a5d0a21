import { sql } from 'drizzle-orm';
import type { DbOrTx } from './client.js';
import type { LikenessAgreement } from '../bots/core/repositories.js';
import { jobs, results } from './schema.js';

/** The requester's verdict on a set: 👎 "not them". */
export const NOT_THEM = 'not_them';

/**
 * Records the requester's verdict on every result of a job, beside the likeness scores.
 * Returns how many result rows carry it (a repeat changes nothing).
 */
export async function recordVerdict(db: DbOrTx, jobId: string, verdict: typeof NOT_THEM): Promise<number> {
  const { rows } = await db.execute<{ n: number }>(sql`
    with marked as (update ${results} set verdict = ${verdict} where job_id = ${jobId} returning id)
    select count(*)::int as n from marked`);
  return rows[0]?.n ?? 0;
}

/**
 * How often the likeness score and the requesters' 👎 agree, per delivered portrait set since
 * `since`: a set is "weak" by score when its lowest variant is under `threshold` (LIKENESS_MIN;
 * pass config.likeness.min), and "rejected" by the requester when it got a 👎. Sets without a
 * 👎 count as kept. Only measured sets count (the gate off, or the instant backend, leaves none).
 */
export async function likenessAgreement(db: DbOrTx, since: Date, threshold = 50): Promise<LikenessAgreement> {
  const { rows } = await db.execute<{ rejected: boolean; low: boolean; n: number; mean: string | null }>(sql`
    with sets as (
      select r.job_id, min(r.likeness_score) as lowest, bool_or(r.verdict = 'not_them') as rejected
      from ${results} r join ${jobs} j on j.id = r.job_id
      where j.kind = 'portrait' and j.status = 'succeeded' and j.created_at >= ${since.toISOString()}::timestamptz
      group by r.job_id
      having count(r.likeness_score) = count(*))
    select coalesce(rejected, false) as rejected, lowest < ${threshold} as low, count(*)::int as n, avg(lowest) as mean
    from sets group by 1, 2`);
  const count = (rejected: boolean, low: boolean) => rows.find((r) => r.rejected === rejected && r.low === low)?.n ?? 0;
  const meanOf = (rejected: boolean): number | null => {
    const group = rows.filter((r) => r.rejected === rejected);
    const n = group.reduce((sum, r) => sum + r.n, 0);
    return n === 0 ? null : group.reduce((sum, r) => sum + Number(r.mean) * r.n, 0) / n;
  };
  const [rejectedLow, rejectedHigh, keptLow, keptHigh] = [count(true, true), count(true, false), count(false, true), count(false, false)];
  const sets = rejectedLow + rejectedHigh + keptLow + keptHigh;
  return {
    since,
    threshold,
    sets,
    rejectedLow,
    rejectedHigh,
    keptLow,
    keptHigh,
    rate: sets === 0 ? null : (rejectedLow + keptHigh) / sets,
    meanLowestRejected: meanOf(true),
    meanLowestKept: meanOf(false),
  };
}
