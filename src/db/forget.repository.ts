import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from './client.js';
import { accounts, jobs, results } from './schema.js';

/** What {@link forgetAccount} did. */
export type ForgetOutcome =
  /** A job of the person is being made right now; nothing was changed. */
  | { status: 'busy' }
  | {
      status: 'forgotten';
      /** Every job of the person, now anonymous: their stored files (`inputs/<id>/`, `results/<id>/`) must go next. */
      jobIds: string[];
      /** Jobs that were still waiting and are now cancelled: take them off the queue too. */
      cancelledJobIds: string[];
    };

class Busy extends Error {}

/**
 * Erases a person from Postgres in one transaction: their identities, ledger, link codes and account
 * are deleted, their results' rows removed, and their jobs kept only as anonymous usage (kind, style,
 * subject, status, price, backend, model, GPU seconds, cost, times) with no account, conversation,
 * inputs, parameters, idempotency key or parent link. Waiting jobs are cancelled first. When a job is
 * running, nothing changes (`busy`): its worker would store outputs after the files were deleted.
 *
 * The jobs are left with `inputs_purged_at` unset: the caller deletes their files and then marks them
 * (`markDetachedJobsPurged`); if it cannot, the retention run finds them and finishes the work.
 */
export async function forgetAccount(db: Db, accountId: string): Promise<ForgetOutcome> {
  try {
    return await db.transaction(async (tx) => {
      // The account lock orders this after (or before) any job being created for the person.
      await tx.select({ id: accounts.id }).from(accounts).where(eq(accounts.id, accountId)).for('update');
      // A worker claiming one of these at this instant either won (the job is running: busy, below)
      // or will find it cancelled and skip it.
      const cancelled = await tx
        .update(jobs)
        .set({ status: 'cancelled', finishedAt: new Date() })
        .where(and(eq(jobs.accountId, accountId), eq(jobs.status, 'queued')))
        .returning({ id: jobs.id });
      const [running] = await tx
        .select({ n: sql<number>`count(*)::int` })
        .from(jobs)
        .where(and(eq(jobs.accountId, accountId), eq(jobs.status, 'running')));
      if ((running?.n ?? 0) > 0) throw new Busy();

      const owned = await tx.select({ id: jobs.id }).from(jobs).where(eq(jobs.accountId, accountId));
      const jobIds = owned.map((j) => j.id);
      if (jobIds.length > 0) {
        await tx.delete(results).where(inArray(results.jobId, jobIds));
        await tx
          .update(jobs)
          .set({
            accountId: null,
            conversation: null,
            inputs: [],
            params: sql`'{}'::jsonb`,
            idempotencyKey: sql`'forgotten:' || ${jobs.id}`,
            parentJobId: null,
            inputsPurgedAt: null,
          })
          .where(inArray(jobs.id, jobIds));
      }
      await tx.delete(accounts).where(eq(accounts.id, accountId)); // identities, ledger and link codes cascade
      return { status: 'forgotten' as const, jobIds, cancelledJobIds: cancelled.map((j) => j.id) };
    });
  } catch (error) {
    if (error instanceof Busy) return { status: 'busy' };
    throw error;
  }
}
