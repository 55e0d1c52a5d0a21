import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { AppError } from '../errors.js';
import { lockAccount } from './accounts.repository.js';
import type { Db, DbOrTx } from './client.js';
import { refusalFor, splitCharge, utcDay, type Balance, type SubmissionRules } from '../bots/core/credit-rules.js';
import type { NewJob } from '../bots/core/repositories.js';
import { creditLedger, jobs } from './schema.js';

/**
 * A new job and its credits: the decision whether a request may run (balance, active jobs, a
 * repeated event) and the job row created with its price reserved, in one transaction. The job's
 * life after that (claim, completion, refunds) is in jobs.repository.ts.
 */

/** What a credit decision needs, read in one statement. */
interface SubmissionState {
  existingId: string | null;
  active: number;
  balance: Balance;
  /** Whether today's free credits were already written to the ledger. */
  freeGranted: boolean;
}

async function readSubmissionState(db: DbOrTx, accountId: string, idempotencyKey: string, day: string, freeDaily: number): Promise<SubmissionState> {
  const { rows } = await db.execute<{ existing_id: string | null; active: number; paid: number; free_left: number; granted: boolean }>(sql`
    select
      (select id from ${jobs} where idempotency_key = ${idempotencyKey}) as existing_id,
      (select count(*)::int from ${jobs} where account_id = ${accountId} and status in ('queued', 'running')) as active,
      coalesce(sum(delta) filter (where pocket = 'paid'), 0)::int as paid,
      coalesce(sum(delta) filter (where pocket = 'free' and free_day = ${day}), 0)::int as free_left,
      coalesce(bool_or(reason = 'free' and free_day = ${day}), false) as granted
    from ${creditLedger} where account_id = ${accountId}`);
  const row = rows[0]!;
  // Today's free credits count in full until the day's grant is written, on first spend.
  const freeLeft = row.granted ? row.free_left : row.free_left + freeDaily;
  return { existingId: row.existing_id, active: row.active, balance: { paid: row.paid, freeLeft }, freeGranted: row.granted };
}

/**
 * The same decision as {@link createJobWithReservation}, without locking or writing: lets a request be
 * refused before its photos are downloaded. Returns the job an earlier delivery of the same event made.
 */
export async function checkSubmission(
  db: DbOrTx,
  accountId: string,
  idempotencyKey: string,
  price: number,
  rules: SubmissionRules,
  now: Date = new Date(),
): Promise<{ existingJobId?: string }> {
  const state = await readSubmissionState(db, accountId, idempotencyKey, utcDay(now), rules.freeDaily);
  if (state.existingId) return { existingJobId: state.existingId };
  const refusal = refusalFor(price, state.balance, state.active, rules);
  if (refusal) throw refusal;
  return {};
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
): Promise<{ jobId: string; duplicate: boolean }> {
  return db.transaction(async (tx) => {
    // The lock is its own statement, so the reads after it see every decision committed before it.
    const account = await lockAccount(tx, input.accountId);
    if (!account) throw new Error(`account ${input.accountId} not found`);
    const day = utcDay(now);
    const state = await readSubmissionState(tx, input.accountId, input.idempotencyKey, day, rules.freeDaily);
    if (state.existingId) return { jobId: state.existingId, duplicate: true };
    if (account.bannedAt) throw new AppError('BANNED', 'account is banned');
    const refusal = refusalFor(input.price, state.balance, state.active, rules);
    if (refusal) throw refusal;
    const charge = splitCharge(input.price, state.balance)!;
    const jobId = input.id ?? randomUUID();
    await tx.execute(sql`
      with free as (
        insert into ${creditLedger} (account_id, delta, reason, pocket, free_day)
        select ${input.accountId}, ${rules.freeDaily}, 'free', 'free', ${day}::date where ${!state.freeGranted}
        on conflict do nothing),
      job as (
        insert into ${jobs} (id, account_id, kind, style, subject, status, idempotency_key, conversation, inputs, params, price, parent_job_id, created_at)
        values (${jobId}, ${input.accountId}, ${input.kind}, ${input.style ?? null}, ${input.subject ?? null}, 'queued', ${input.idempotencyKey},
                ${JSON.stringify(input.conversation)}::jsonb, ${JSON.stringify(input.inputs)}::jsonb, ${JSON.stringify(input.params)}::jsonb,
                ${input.price}, ${input.parentJobId ?? null}, ${now.toISOString()}::timestamptz)
        returning id)
      insert into ${creditLedger} (account_id, job_id, delta, reason, pocket, free_day)
      select ${input.accountId}, job.id, v.delta, 'reserve', v.pocket, v.free_day
      from job, (values (${-charge.free}::int, 'free', ${day}::date), (${-charge.paid}::int, 'paid', null::date)) as v(delta, pocket, free_day)
      where v.delta <> 0`);
    return { jobId, duplicate: false };
  });
}
