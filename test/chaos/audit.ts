/**
 * The verdict of a scenario, computed from what is recorded, never assumed: the `jobs`, `results`
 * and `credit_ledger` rows in Postgres, the replies the requesters got, and what the chat platform
 * received. `judge` is pure; `readJobs` is the one query.
 */
import type pg from 'pg';
import type { ChatDeliveries } from './deliveries.js';
import type { RequestRecord } from './load.js';

/** One job with its results and the ledger rows that belong to it, summed. */
export interface JobRow {
  id: string;
  idempotencyKey: string;
  kind: string;
  status: string;
  price: number;
  attempts: number;
  errorCode: string | null;
  accountId: string | null;
  platformUserId: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  deliveredAt: number | null;
  results: number;
  /** Sum of every ledger delta of the job: -price when charged once, 0 when refunded. */
  net: number;
  reserves: number;
  commits: number;
  refunds: number;
  /** Credits the likeness gate gave back for variants it could not make good (the job still succeeded). */
  likenessRefunded: number;
}

export async function readJobs(pool: Pick<pg.Pool, 'query'>): Promise<JobRow[]> {
  const { rows } = await pool.query(`
    select j.id, j.idempotency_key, j.kind, j.status, j.price, j.attempts, j.error_code, j.account_id,
           (select platform_user_id from identities i where i.account_id = j.account_id limit 1) as platform_user_id,
           extract(epoch from j.created_at) * 1000 as created_at, extract(epoch from j.started_at) * 1000 as started_at,
           extract(epoch from j.finished_at) * 1000 as finished_at, extract(epoch from j.delivered_at) * 1000 as delivered_at,
           (select count(*) from results r where r.job_id = j.id)::int as results,
           coalesce(l.net, 0)::int as net, coalesce(l.reserves, 0)::int as reserves,
           coalesce(l.commits, 0)::int as commits, coalesce(l.refunds, 0)::int as refunds,
           coalesce(l.likeness_refunded, 0)::int as likeness_refunded
    from jobs j
    left join (
      select job_id, sum(delta) as net, count(*) filter (where reason = 'reserve') as reserves,
             count(*) filter (where reason = 'commit') as commits, count(*) filter (where reason = 'refund') as refunds,
             sum(delta) filter (where reason = 'likeness_refund') as likeness_refunded
      from credit_ledger where job_id is not null group by job_id
    ) l on l.job_id = j.id`);
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return rows.map((r) => ({
    id: r.id,
    idempotencyKey: r.idempotency_key,
    kind: r.kind,
    status: r.status,
    price: r.price,
    attempts: r.attempts,
    errorCode: r.error_code,
    accountId: r.account_id,
    platformUserId: r.platform_user_id,
    createdAt: Number(r.created_at),
    startedAt: num(r.started_at),
    finishedAt: num(r.finished_at),
    deliveredAt: num(r.delivered_at),
    results: r.results,
    net: r.net,
    reserves: r.reserves,
    commits: r.commits,
    refunds: r.refunds,
    likenessRefunded: r.likeness_refunded,
  }));
}

/** Ledger rows that move credits for a job but point at none: "charged without a job". */
export async function countOrphanCharges(pool: Pick<pg.Pool, 'query'>): Promise<number> {
  const { rows } = await pool.query(`select count(*)::int as n from credit_ledger where job_id is null and reason in ('reserve', 'commit', 'refund')`);
  return rows[0].n;
}

/** Words of the failure messages (every one says the credits were refunded). */
const FAILURE_TOLD = /refunded/i;

export interface Tally {
  /** Requests made (by the load and by the people in the chat). */
  requests: number;
  /** Acknowledged with a job. */
  accepted: number;
  /** Refused with a code (e.g. SERVICE_UNAVAILABLE), by code. */
  refused: Record<string, number>;
  /** Accepted requests whose portraits reached their chat. */
  delivered: number;
  /** Accepted requests whose job failed, was refunded, and whose chat was told so. */
  failedTold: number;
  /** Accepted requests with neither their portraits nor a failure notice in their chat. */
  lost: number;
  /** Accepted requests whose portraits arrived more than once. */
  duplicated: number;
  /** Requests charged more than once (two jobs for one event, or more than the price taken). */
  doubleCharged: number;
  /** Other wrong money: a failed or refused job that kept credits, a succeeded one that kept other than its price (less any likeness refund). */
  wronglyCharged: number;
  /** Jobs the GPU started more than once (a crash or a retry ran it again). */
  rerun: number;
  /** Problems, one line each, for the report. */
  problems: string[];
}

const idempotencyKeyOf = (r: RequestRecord) => `telegram:${r.eventId}`;

/**
 * Pure: what became of every request. A request counts as delivered when its chat received an
 * album; as told when its job failed, was refunded, and its chat received a failure notice; as
 * lost when it was accepted and neither happened. Money is judged per job from the ledger.
 */
export function judge(records: readonly RequestRecord[], jobs: readonly JobRow[], chats: ReadonlyMap<number, ChatDeliveries>, orphanCharges = 0): Tally {
  const byKey = new Map<string, JobRow[]>();
  for (const job of jobs) byKey.set(job.idempotencyKey, [...(byKey.get(job.idempotencyKey) ?? []), job]);
  const tally: Tally = { requests: records.length, accepted: 0, refused: {}, delivered: 0, failedTold: 0, lost: 0, duplicated: 0, doubleCharged: 0, wronglyCharged: 0, rerun: 0, problems: [] };
  const problem = (line: string) => {
    if (tally.problems.length < 12) tally.problems.push(line);
  };

  for (const record of records) {
    const own = byKey.get(idempotencyKeyOf(record)) ?? [];
    if (own.length > 1) {
      tally.doubleCharged += 1;
      problem(`request ${record.eventId}: ${own.length} jobs`);
    }
    const chat = chats.get(record.chatId) ?? { albums: [], texts: [] };
    if (!record.jobId) {
      const code = record.code ?? (record.threw ? 'THREW' : 'NONE');
      tally.refused[code] = (tally.refused[code] ?? 0) + 1;
      if (record.threw) problem(`request ${record.eventId}: the command layer threw: ${record.threw}`);
      const kept = own.filter((j) => j.net !== 0);
      if (kept.length > 0) {
        tally.wronglyCharged += 1;
        problem(`refused request ${record.eventId} (${code}) kept ${-kept[0]!.net} credits (job ${kept[0]!.status})`);
      }
      continue;
    }
    tally.accepted += 1;
    const job = own.find((j) => j.id === record.jobId) ?? jobs.find((j) => j.id === record.jobId);
    if (chat.albums.length > 1) {
      tally.duplicated += 1;
      problem(`request ${record.eventId}: ${chat.albums.length} albums`);
    }
    if (chat.albums.length > 0) tally.delivered += 1;
    else if (job?.status === 'failed' && job.net === 0 && chat.texts.some((t) => FAILURE_TOLD.test(t.text))) tally.failedTold += 1;
    else {
      tally.lost += 1;
      problem(`request ${record.eventId}: job ${job?.status ?? 'missing'}${job?.errorCode ? ` (${job.errorCode})` : ''}, ${chat.albums.length} albums, ${chat.texts.length} texts`);
    }
  }

  for (const job of jobs) {
    if (job.attempts > 1) tally.rerun += 1;
    if (job.net < -job.price || job.reserves > 2) {
      tally.doubleCharged += 1;
      problem(`job ${job.id}: net ${job.net} for a price of ${job.price}`);
    } else if ((job.status === 'failed' || job.status === 'cancelled') && job.net !== 0) {
      tally.wronglyCharged += 1;
      problem(`job ${job.id} ${job.status} (${job.errorCode}) but kept ${-job.net} credits`);
    } else if (job.status === 'succeeded' && (job.net !== -job.price + job.likenessRefunded || job.commits === 0)) {
      tally.wronglyCharged += 1;
      problem(`job ${job.id} succeeded with net ${job.net}, ${job.commits} commits, ${job.refunds} refunds`);
    }
  }
  if (orphanCharges > 0) {
    tally.wronglyCharged += orphanCharges;
    problem(`${orphanCharges} ledger rows move credits without a job`);
  }
  return tally;
}

/**
 * Pure: ms from `since` until the last request accepted before it reached its outcome in its chat
 * (portraits, or a failure notice); undefined when one never did.
 */
export function drainedAfter(since: number, records: readonly RequestRecord[], chats: ReadonlyMap<number, ChatDeliveries>): number | undefined {
  let last = since;
  for (const record of records) {
    if (!record.jobId || record.sentAt > since) continue;
    const chat = chats.get(record.chatId);
    const outcome = chat?.albums[0] ?? chat?.texts.find((t) => FAILURE_TOLD.test(t.text))?.at;
    if (outcome === undefined) return undefined;
    last = Math.max(last, outcome);
  }
  return last - since;
}

/** Pure: the q-quantile (0..1) of `values`, NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
