import { and, asc, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from './client.js';
import type { Balance } from '../bots/core/credit-rules.js';
import { creditLedger, type LedgerRow } from './schema.js';

export async function hasDailyFree(db: DbOrTx, accountId: string, day: string): Promise<boolean> {
  const rows = await db
    .select({ id: creditLedger.id })
    .from(creditLedger)
    .where(and(eq(creditLedger.accountId, accountId), eq(creditLedger.reason, 'free'), eq(creditLedger.freeDay, day)))
    .limit(1);
  return rows.length > 0;
}

/** The balance as a sum over the ledger: paid credits, and the free credits of `day` not yet spent. */
export async function readBalance(db: DbOrTx, accountId: string, day: string): Promise<Balance> {
  const [row] = await db
    .select({
      paid: sql<string>`coalesce(sum(${creditLedger.delta}) filter (where ${creditLedger.pocket} = 'paid'), 0)`,
      freeLeft: sql<string>`coalesce(sum(${creditLedger.delta}) filter (where ${creditLedger.pocket} = 'free' and ${creditLedger.freeDay} = ${day}), 0)`,
    })
    .from(creditLedger)
    .where(eq(creditLedger.accountId, accountId));
  return { paid: Number(row?.paid ?? 0), freeLeft: Number(row?.freeLeft ?? 0) };
}

/** The balance a person sees: today's free credits count in full until the day's grant is written on first use. */
export async function currentBalance(db: DbOrTx, accountId: string, freeDaily: number, day: string): Promise<Balance> {
  const [balance, granted] = await Promise.all([readBalance(db, accountId, day), hasDailyFree(db, accountId, day)]);
  return granted ? balance : { ...balance, freeLeft: balance.freeLeft + freeDaily };
}

/**
 * Settles a job's reservation: `commit` keeps the credits spent (delta 0, a record that the work was
 * delivered), `refund` gives them back to the pockets they came from. The unique (job, reason, pocket)
 * index makes a second settlement of the same kind a no-op. Returns the credits given back.
 */
export async function settleReservation(db: DbOrTx, jobId: string, reason: 'commit' | 'refund'): Promise<number> {
  const delta = reason === 'refund' ? sql`-${creditLedger.delta}` : sql`0`;
  const result = await db.execute<{ delta: number }>(sql`
    insert into ${creditLedger} (account_id, job_id, delta, reason, pocket, free_day)
    select account_id, job_id, ${delta}, ${reason}, pocket, free_day
    from ${creditLedger}
    where ${creditLedger.jobId} = ${jobId} and ${creditLedger.reason} = 'reserve'
    on conflict do nothing
    returning delta`);
  return result.rows.reduce((sum, r) => sum + Number(r.delta), 0);
}

/**
 * Adds (or with a negative amount, removes) paid credits, e.g. an admin grant. With an
 * `idempotencyKey` (unique over the ledger) a second grant under the same key writes nothing.
 * True when this call wrote the grant.
 */
export async function grantCredits(db: DbOrTx, accountId: string, amount: number, note?: string, idempotencyKey?: string): Promise<boolean> {
  const written = await db
    .insert(creditLedger)
    .values({ accountId, delta: amount, reason: 'grant', pocket: 'paid', note, idempotencyKey })
    .onConflictDoNothing()
    .returning({ id: creditLedger.id });
  return written.length > 0;
}

export async function ledgerOfJob(db: DbOrTx, jobId: string): Promise<LedgerRow[]> {
  return db.select().from(creditLedger).where(eq(creditLedger.jobId, jobId)).orderBy(asc(creditLedger.id));
}

