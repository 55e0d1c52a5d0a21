import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import { AppError } from '../errors.js';
import type { Db, DbOrTx } from './client.js';
import { refusalFor, splitCharge, utcDay, type SubmissionRules } from './credit-rules.js';
import { lockAccount } from './accounts.repository.js';
import { currentBalance, ensureDailyFree, readBalance, reserveCharge, settleReservation } from './ledger.repository.js';
import { jobs, results, type Conversation, type Job } from './schema.js';

export interface NewJob {
  accountId: string;
  kind: Job['kind'];
  idempotencyKey: string;
  conversation: Conversation;
  inputs: string[];
  params: Record<string, unknown>;
  style?: string;
  subject?: string;
  price: number;
  parentJobId?: string;
  /** Set by callers that must know the id before the row exists (input artifact keys). */
  id?: string;
}

/**
 * The same decision as {@link createJobWithReservation}, without locking or writing: lets a request be
 * refused before its photos are downloaded. Today's free credits count in full until first used.
 */
export async function checkSubmission(db: DbOrTx, accountId: string, price: number, rules: SubmissionRules, now: Date = new Date()): Promise<void> {
  const [active, balance] = await Promise.all([countActiveJobs(db, accountId), currentBalance(db, accountId, rules.freeDaily, utcDay(now))]);
  const refusal = refusalFor(price, balance, active, rules);
  if (refusal) throw refusal;
}

/**
 * Creates a job and reserves its price in one transaction, with the account row locked so two
 * requests cannot both spend the last credits. A repeated idempotency key returns the first job
 * (`duplicate: true`) and reserves nothing. Refuses with BANNED, TOO_MANY_ACTIVE_JOBS or QUOTA_EXCEEDED.
 */
export async function createJobWithReservation(
  db: Db,
  input: NewJob,
  rules: SubmissionRules,
  now: Date = new Date(),
): Promise<{ job: Job; duplicate: boolean }> {
  return db.transaction(async (tx) => {
    const account = await lockAccount(tx, input.accountId);
    if (!account) throw new Error(`account ${input.accountId} not found`);

    const [existing] = await tx.select().from(jobs).where(eq(jobs.idempotencyKey, input.idempotencyKey));
    if (existing) return { job: existing, duplicate: true };
    if (account.bannedAt) throw new AppError('BANNED', 'account is banned');

    const day = utcDay(now);
    await ensureDailyFree(tx, input.accountId, day, rules.freeDaily);
    const [active, balance] = [await countActiveJobs(tx, input.accountId), await readBalance(tx, input.accountId, day)];
    const refusal = refusalFor(input.price, balance, active, rules);
    if (refusal) throw refusal;
    const charge = splitCharge(input.price, balance)!;

    const [job] = await tx
      .insert(jobs)
      .values({ ...input, status: 'queued', createdAt: now })
      .returning();
    await reserveCharge(tx, input.accountId, job!.id, charge, day);
    return { job: job!, duplicate: false };
  });
}

export async function countActiveJobs(db: DbOrTx, accountId: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(jobs)
    .where(and(eq(jobs.accountId, accountId), inArray(jobs.status, ['queued', 'running'])));
  return row?.n ?? 0;
}

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
}

export interface Usage {
  model: string;
  gpuSeconds: number;
  costUsd: number;
}

/**
 * Records a job's outputs, marks it succeeded and commits its reservation, atomically.
 * Returns false (and changes nothing) when the job was no longer running: finished by another worker or cancelled.
 */
export async function completeJob(db: Db, jobId: string, outputs: StoredOutput[], usage: Usage): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [done] = await tx
      .update(jobs)
      .set({ status: 'succeeded', model: usage.model, gpuSeconds: usage.gpuSeconds, costUsd: usage.costUsd.toFixed(6), finishedAt: new Date(), errorCode: null })
      .where(and(eq(jobs.id, jobId), eq(jobs.status, 'running')))
      .returning({ id: jobs.id });
    if (!done) return false;
    if (outputs.length > 0) {
      await tx
        .insert(results)
        .values(outputs.map((o) => ({ jobId, ...o })))
        .onConflictDoNothing();
    }
    await settleReservation(tx, jobId, 'commit');
    return true;
  });
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
      .where(and(eq(jobs.id, jobId), inArray(jobs.status, status === 'cancelled' ? ['queued'] : ['queued', 'running'])))
      .returning({ id: jobs.id });
    if (!ended) return undefined;
    return settleReservation(tx, jobId, 'refund');
  });
}

/** Refunds a delivered job's credits once (the "not them" promise); 0 when already refunded. */
export async function refundSucceededJob(db: Db, jobId: string): Promise<number> {
  return settleReservation(db, jobId, 'refund');
}

export async function queuedJobsOf(db: DbOrTx, accountId: string): Promise<Job[]> {
  return db.select().from(jobs).where(and(eq(jobs.accountId, accountId), eq(jobs.status, 'queued')));
}

export async function recentJobsOf(db: DbOrTx, accountId: string, limit: number): Promise<Job[]> {
  return db.select().from(jobs).where(eq(jobs.accountId, accountId)).orderBy(desc(jobs.createdAt)).limit(limit);
}

export async function markDelivered(db: DbOrTx, jobId: string): Promise<void> {
  await db.update(jobs).set({ deliveredAt: sql`coalesce(${jobs.deliveredAt}, now())` }).where(eq(jobs.id, jobId));
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
