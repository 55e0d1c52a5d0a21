import { eq, inArray, sql } from 'drizzle-orm';
import type { Db } from './client.js';
import { accounts, jobs, results } from './schema.js';

/**
 * Erases a person: their identities, ledger and account are deleted, their results' rows removed,
 * and their jobs kept only as anonymous usage (kind, price, GPU seconds, cost) with no link, input
 * or conversation. Returns the job ids whose stored files the caller must delete.
 */
export async function forgetAccount(db: Db, accountId: string): Promise<string[]> {
  return db.transaction(async (tx) => {
    const owned = await tx.select({ id: jobs.id }).from(jobs).where(eq(jobs.accountId, accountId));
    const jobIds = owned.map((j) => j.id);
    if (jobIds.length > 0) {
      await tx.delete(results).where(inArray(results.jobId, jobIds));
      await tx
        .update(jobs)
        .set({ accountId: null, conversation: null, inputs: [], params: sql`'{}'::jsonb`, idempotencyKey: sql`'forgotten:' || ${jobs.id}` })
        .where(inArray(jobs.id, jobIds));
    }
    await tx.delete(accounts).where(eq(accounts.id, accountId)); // identities and ledger rows cascade
    return jobIds;
  });
}
