import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from './client.js';
import { settleReservation } from './ledger.repository.js';
import { creditLedger, jobs, results, type Job } from './schema.js';

export async function getJob(db: DbOrTx, jobId: string): Promise<Job | undefined> {
  const [job] = await db.select().from(jobs).where(eq(jobs.id, jobId));
  return job;
}

/** Marks a queued (or crashed-while-running) job as running; undefined when it is already finished or cancelled. */
export async function claimJob(db: DbOrTx, jobId: string, backend: string): Promise<Job | undefined> {
  const [job] = await db
    .update(jobs)
    .set({ status: 'running', backend, startedAt: sql`coalesce(${jobs.startedAt}, now())`, attempts: sql`${jobs.attempts} + 1` })
    .where(and(eq(jobs.id, jobId), inArray(jobs.status, ['queued', 'running'])))
    .returning();
  return job;
}

export interface StoredOutput {
  variant: number;
  artifactKey: string;
  width: number;
  height: number;
  bytes: number;
  /** 0–100 likeness to the reference photos (results.likeness_score); unset when not measured. */
  likenessScore?: number;
}

/** The ledger reason of the likeness gate's partial refund (one row per job and pocket, like every reason). */
export const LIKENESS_REFUND = 'likeness_refund';

/**
 * What the likeness gate decided for a job, recorded with its completion. `summary` is kept in
 * the job's params under `likeness` for the message that delivers the set (null: not measured).
 */
export interface LikenessRecord {
  /** Regeneration runs of weak variants (jobs.likeness_retries); their GPU cost is already in the usage. */
  retries: number;
  /** Credits to give back for variants still weak: written once, as `likeness_refund` rows. */
  refund: number;
  summary: LikenessSummary | null;
}

/** The gate's verdict on a delivered set, as the delivery message reads it from `params.likeness`. */
export interface LikenessSummary {
  /** LIKENESS_MIN the set was measured against. */
  min: number;
  /** Variants (0-based) still under `min`. */
  weak: number[];
  /** Credits refunded for them. */
  refunded: number;
  retries: number;
}

export interface Usage {
  model: string;
  gpuSeconds: number;
  costUsd: number;
}

/**
 * Records a job's outputs, marks it succeeded and commits its reservation, atomically.
 * Returns false (and changes nothing) when the job was no longer running: finished by another worker or cancelled.
 *
 * With `likeness` (the likeness gate ran or was considered) the same statement also stores each
 * output's score, the job's likeness retries and summary, and refunds `likeness.refund` credits,
 * paid pocket first. That refund can happen only once: it rides on the job's single move from
 * running to succeeded, and the ledger's unique (job, reason, pocket) index admits one
 * `likeness_refund` row per pocket.
 */
export async function completeJob(db: DbOrTx, jobId: string, outputs: StoredOutput[], usage: Usage, likeness?: LikenessRecord): Promise<boolean> {
  // One statement: a single round trip, and atomic without an explicit transaction.
  const rows = outputs.map((o) => ({ variant: o.variant, artifact_key: o.artifactKey, width: o.width, height: o.height, bytes: o.bytes, likeness_score: o.likenessScore ?? null }));
  const gate = likeness ?? { retries: null, refund: 0, summary: null };
  // Without `likeness` the params are left alone; with it, a stale summary (copied by a re-roll from its parent) is replaced.
  const summary = likeness ? JSON.stringify(likeness.summary ? { likeness: likeness.summary } : {}) : null;
  const { rows: done } = await db.execute<{ n: number }>(sql`
    with done as (
      update ${jobs} set status = 'succeeded', model = ${usage.model}, gpu_seconds = ${usage.gpuSeconds}, cost_usd = ${usage.costUsd.toFixed(6)},
             finished_at = now(), error_code = null,
             likeness_retries = coalesce(${gate.retries}::int, likeness_retries),
             params = case when ${summary}::jsonb is null then params else (params - 'likeness') || ${summary}::jsonb end
      where id = ${jobId} and status = 'running' returning id),
    stored as (
      insert into ${results} (job_id, variant, artifact_key, width, height, bytes, likeness_score)
      select done.id, x.variant, x.artifact_key, x.width, x.height, x.bytes, x.likeness_score
      from done, jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(variant int, artifact_key text, width int, height int, bytes int, likeness_score real)
      on conflict do nothing),
    committed as (
      insert into ${creditLedger} (account_id, job_id, delta, reason, pocket, free_day)
      select l.account_id, l.job_id, 0, 'commit', l.pocket, l.free_day from ${creditLedger} l, done
      where l.job_id = done.id and l.reason = 'reserve'
      on conflict do nothing),
    refunded as (
      insert into ${creditLedger} (account_id, job_id, delta, reason, pocket, free_day, note)
      select l.account_id, l.job_id, share.amount, ${LIKENESS_REFUND}, l.pocket, l.free_day, 'likeness under LIKENESS_MIN'
      from ${creditLedger} l
      join done on l.job_id = done.id
      cross join lateral (
        -- The paid pocket gives back first (free credits lapse at midnight); the free pocket the rest.
        select least(-l.delta, greatest(0, ${gate.refund}::int - case when l.pocket = 'free' then coalesce(
          (select -p.delta from ${creditLedger} p where p.job_id = l.job_id and p.reason = 'reserve' and p.pocket = 'paid'), 0) else 0 end)) as amount
      ) share
      where l.reason = 'reserve' and share.amount > 0
      on conflict do nothing)
    select count(*)::int as n from done`);
  return done[0]!.n === 1;
}

/**
 * Ends a job that will not succeed (GPU gave up, bad input, cancelled) and refunds its reservation once.
 * Only a queued or running job can end this way; returns the credits refunded, or undefined if it had already ended.
 */
export async function endJobWithRefund(
  db: Db,
  jobId: string,
  status: 'failed' | 'cancelled',
  errorCode: string | null,
  usage?: Partial<Usage>,
): Promise<number | undefined> {
  return db.transaction(async (tx) => {
    const [ended] = await tx
      .update(jobs)
      .set({
        status,
        errorCode,
        finishedAt: new Date(),
        ...(usage?.gpuSeconds !== undefined ? { gpuSeconds: usage.gpuSeconds } : {}),
        ...(usage?.costUsd !== undefined ? { costUsd: usage.costUsd.toFixed(6) } : {}),
      })
      .where(and(eq(jobs.id, jobId), inArray(jobs.status, ['queued', 'running'])))
      .returning({ id: jobs.id });
    if (!ended) return undefined;
    return settleReservation(tx, jobId, 'refund');
  });
}

/**
 * Refunds a delivered job's credits once (the "not them" promise); 0 when already refunded. What
 * the likeness gate already gave back for weak variants is not given twice: each pocket's refund
 * is its reservation less that pocket's `likeness_refund`.
 */
export async function refundSucceededJob(db: DbOrTx, jobId: string): Promise<number> {
  const result = await db.execute<{ delta: number }>(sql`
    insert into ${creditLedger} (account_id, job_id, delta, reason, pocket, free_day)
    select r.account_id, r.job_id, -r.delta - coalesce(g.delta, 0), 'refund', r.pocket, r.free_day
    from ${creditLedger} r
    left join ${creditLedger} g on g.job_id = r.job_id and g.pocket = r.pocket and g.reason = ${LIKENESS_REFUND}
    where r.job_id = ${jobId} and r.reason = 'reserve'
    on conflict do nothing
    returning delta`);
  return result.rows.reduce((sum, r) => sum + Number(r.delta), 0);
}

/**
 * The 👎 "not them" refund: a finished set's credits back, at most once per original request. A
 * request's family is its first portrait job and every re-roll made from it (🔄 and 👎 alike, at
 * any depth); once any finished set of the family was refunded, no other is, so 👎 cannot turn
 * one paid request into endless free sets. Returns the credits refunded (0 when none).
 */
export async function refundRejectedSet(db: Db, jobId: string): Promise<number> {
  return db.transaction(async (tx) => {
    const { rows: roots } = await tx.execute<{ id: string }>(sql`
      with recursive up as (
        select id, parent_job_id, 0 as depth from ${jobs} where id = ${jobId}
        union all
        select j.id, j.parent_job_id, up.depth + 1 from ${jobs} j join up on j.id = up.parent_job_id where j.kind = 'portrait'
      )
      select id from up order by depth desc limit 1`);
    const root = roots[0]?.id;
    if (!root) return 0;
    // One decision at a time per family: two 👎 at once cannot both refund.
    await tx.execute(sql`select 1 from ${jobs} where id = ${root} for update`);
    const { rows } = await tx.execute<{ refunded: boolean }>(sql`
      with recursive family as (
        select id from ${jobs} where id = ${root}
        union all
        select j.id from ${jobs} j join family f on j.parent_job_id = f.id where j.kind = 'portrait'
      )
      select exists (
        select 1 from ${creditLedger} l join ${jobs} j on j.id = l.job_id
        where l.job_id in (select id from family) and l.reason = 'refund' and j.status = 'succeeded'
      ) as refunded`);
    if (rows[0]?.refunded) return 0;
    return refundSucceededJob(tx, jobId);
  });
}

/** The person's jobs that have not ended: waiting or running. */
export async function activeJobsOf(db: DbOrTx, accountId: string): Promise<Job[]> {
  return db.select().from(jobs).where(and(eq(jobs.accountId, accountId), inArray(jobs.status, ['queued', 'running'])));
}

export async function recentJobsOf(db: DbOrTx, accountId: string, limit: number): Promise<Job[]> {
  return db.select().from(jobs).where(eq(jobs.accountId, accountId)).orderBy(desc(jobs.createdAt)).limit(limit);
}

/** Records that a job's outcome reached its chat. */
export async function markDelivered(db: DbOrTx, jobId: string): Promise<void> {
  await db.update(jobs).set({ deliveredAt: sql`coalesce(${jobs.deliveredAt}, now())` }).where(eq(jobs.id, jobId));
}

/** Records, once, why a job's outcome can never reach its chat; the job then counts as delivered, so nothing retries it. */
export async function markUndeliverable(db: DbOrTx, jobId: string, reason: string): Promise<void> {
  await db
    .update(jobs)
    .set({ undeliveredReason: sql`coalesce(${jobs.undeliveredReason}, ${reason})`, deliveredAt: sql`coalesce(${jobs.deliveredAt}, now())` })
    .where(eq(jobs.id, jobId));
}

/** Mean wall time of the last finished jobs of a kind, for queue estimates; undefined with no history. */
export async function recentMeanSeconds(db: DbOrTx, kind: Job['kind'], sample = 50): Promise<number | undefined> {
  const result = await db.execute<{ mean: string | null }>(sql`
    select avg(extract(epoch from (finished_at - started_at))) as mean from (
      select finished_at, started_at from ${jobs}
      where kind = ${kind} and status = 'succeeded' and started_at is not null
      order by finished_at desc limit ${sample}
    ) recent`);
  const mean = result.rows[0]?.mean;
  return mean == null ? undefined : Number(mean);
}

export async function getJobByKey(db: DbOrTx, idempotencyKey: string): Promise<Job | undefined> {
  const [job] = await db.select().from(jobs).where(eq(jobs.idempotencyKey, idempotencyKey));
  return job;
}

/** Queued or running jobs that nothing has touched for `olderThanMs` (candidates for reconciliation). */
export async function quietActiveJobs(db: DbOrTx, olderThanMs: number, limit = 500): Promise<Array<Pick<Job, 'id' | 'kind' | 'status'>>> {
  return db
    .select({ id: jobs.id, kind: jobs.kind, status: jobs.status })
    .from(jobs)
    .where(sql`status in ('queued', 'running') and coalesce(started_at, created_at) < now() - make_interval(secs => ${olderThanMs / 1000})`)
    .limit(limit);
}
