import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from './client.js';
import type { ForgetOutcome } from '../bots/core/repositories.js';
import { leaveTombstones } from './tombstones.repository.js';
import { accounts, jobs, results } from './schema.js';

/**
 * Erases a person from Postgres in one transaction: their identities, ledger, link codes and account
 * are deleted, their results' rows removed, and their jobs kept only as anonymous usage (kind, style,
 * subject, status, price, backend, model, GPU seconds, cost, times) with no account, conversation,
 * inputs, parameters, idempotency key or parent link. Waiting and running jobs are cancelled first.
 *
 * The jobs are left with `inputs_purged_at` unset: the caller deletes their files and then marks them
 * (`markDetachedJobsPurged`); if it cannot, the retention run finds them and finishes the work.
 */
export async function forgetAccount(db: Db, accountId: string, tombstones?: { key: string; now?: Date }): Promise<ForgetOutcome> {
  return db.transaction(async (tx) => {
    // The account lock orders this after (or before) any job being created for the person.
    await tx.select({ id: accounts.id }).from(accounts).where(eq(accounts.id, accountId)).for('update');
    // A worker claiming one of these at this instant either won (the job is running and is stopped
    // below) or will find it cancelled and skip it.
    const active = await tx
      .select({ id: jobs.id, status: jobs.status })
      .from(jobs)
      .where(and(eq(jobs.accountId, accountId), inArray(jobs.status, ['queued', 'running'])))
      .for('update');
    if (active.length > 0) {
      await tx.update(jobs).set({ status: 'cancelled', finishedAt: new Date() }).where(inArray(jobs.id, active.map((j) => j.id)));
    }

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
    // Only the ban and today's free-credit use outlive the account, under a keyed hash of each identity.
    if (tombstones) await leaveTombstones(tx, accountId, tombstones.key, tombstones.now ?? new Date());
    await tx.delete(accounts).where(eq(accounts.id, accountId)); // identities, ledger and link codes cascade
    return {
      jobIds,
      cancelledJobIds: active.filter((j) => j.status === 'queued').map((j) => j.id),
      stoppedJobIds: active.filter((j) => j.status === 'running').map((j) => j.id),
    };
  });
}
