import { createHash } from 'node:crypto';
import { and, eq, gt, inArray, sql } from 'drizzle-orm';
import type { Db, Tx } from './client.js';
import type { LinkOutcome } from '../bots/core/repositories.js';
import { accounts, creditLedger, identities, jobs, linkCodes } from './schema.js';

const hashOf = (code: string): string => createHash('sha256').update(code).digest('hex');

/** Stores a fresh one-time code for `accountId`; earlier codes of that account stop working. */
export async function createLinkCode(db: Db, accountId: string, code: string, expiresAt: Date): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.delete(linkCodes).where(eq(linkCodes.accountId, accountId));
    await tx.insert(linkCodes).values({ codeHash: hashOf(code), accountId, expiresAt });
  });
}

/**
 * Redeems `code` sent by `senderAccountId`, in one transaction with the code's row locked, so a code
 * works once; a refusal leaves it usable for the right person.
 * - An offer (made by /link) sent from an account on another platform becomes `confirmation`, a
 *   code only the offer's maker can use: a code seen by someone else (a group, a screenshot) joins
 *   nothing by itself.
 * - A confirmation sent by the offer's maker joins the redeemer to it: the redeemer's identities,
 *   jobs and ledger move to the maker's account, and the redeemer's account is deleted.
 */
export async function redeemLinkCode(db: Db, code: string, senderAccountId: string, now: Date, confirmation: { code: string; expiresAt: Date }): Promise<LinkOutcome> {
  return db.transaction(async (tx) => {
    const [found] = await tx
      .select({ accountId: linkCodes.accountId, redeemerAccountId: linkCodes.redeemerAccountId })
      .from(linkCodes)
      .where(and(eq(linkCodes.codeHash, hashOf(code)), gt(linkCodes.expiresAt, now)))
      .for('update');
    if (!found) return { status: 'invalid' } as const;
    const survivorId = found.accountId;
    const redeemerId = found.redeemerAccountId ?? senderAccountId;
    // A confirmation is the maker's to send, and nobody else's.
    if (found.redeemerAccountId && senderAccountId !== survivorId) return { status: 'invalid' } as const;
    if (survivorId === redeemerId) return { status: 'same-account' } as const;

    // Both rows locked, in a fixed order, so two links racing between the same accounts cannot deadlock.
    const locked = await tx.select({ id: accounts.id }).from(accounts).where(inArray(accounts.id, [survivorId, redeemerId])).orderBy(accounts.id).for('update');
    if (locked.length < 2) return { status: 'invalid' } as const; // one of them was forgotten meanwhile

    const owned = await tx
      .select({ accountId: identities.accountId, platform: identities.platform })
      .from(identities)
      .where(inArray(identities.accountId, [survivorId, redeemerId]));
    const survivorPlatforms = new Set(owned.filter((i) => i.accountId === survivorId).map((i) => i.platform));
    const shared = owned.find((i) => i.accountId === redeemerId && survivorPlatforms.has(i.platform));
    if (shared) return { status: 'same-platform', platform: shared.platform } as const;

    await tx.delete(linkCodes).where(eq(linkCodes.codeHash, hashOf(code)));
    if (!found.redeemerAccountId) {
      await tx.insert(linkCodes).values({ codeHash: hashOf(confirmation.code), accountId: survivorId, redeemerAccountId: redeemerId, expiresAt: confirmation.expiresAt });
      return { status: 'confirm', platforms: [...survivorPlatforms].sort() } as const;
    }
    await mergeFreeDays(tx, survivorId, redeemerId);
    await tx.update(creditLedger).set({ accountId: survivorId }).where(eq(creditLedger.accountId, redeemerId));
    await tx.update(jobs).set({ accountId: survivorId }).where(eq(jobs.accountId, redeemerId));
    await tx.update(identities).set({ accountId: survivorId }).where(eq(identities.accountId, redeemerId));
    // Consent given on either platform stands; a ban on either carries over (linking is no way out of one).
    await tx.execute(sql`
      update ${accounts} s
      set consented_at = coalesce(s.consented_at, r.consented_at),
          banned_at = coalesce(s.banned_at, r.banned_at),
          ban_reason = coalesce(s.ban_reason, r.ban_reason)
      from ${accounts} r
      where s.id = ${survivorId} and r.id = ${redeemerId}`);
    await tx.delete(accounts).where(eq(accounts.id, redeemerId));
    return { status: 'linked', accountId: survivorId, platforms: [...new Set(owned.map((i) => i.platform))].sort() } as const;
  });
}

/**
 * One person gets one free allowance a day. Where both accounts were granted the same day, the two
 * grants become one, large enough that what both already spent that day never leaves the pocket negative.
 */
async function mergeFreeDays(tx: Tx, survivorId: string, redeemerId: string): Promise<void> {
  await tx.execute(sql`
    with days as (
      select s.id as survivor_row, r.id as redeemer_row, s.free_day,
             greatest(s.delta, r.delta, (
               select coalesce(-sum(l.delta), 0) from ${creditLedger} l
               where l.account_id in (${survivorId}, ${redeemerId}) and l.pocket = 'free'
                 and l.free_day = s.free_day and l.reason <> 'free'
             )) as merged
      from ${creditLedger} s
      join ${creditLedger} r on r.free_day = s.free_day and r.reason = 'free' and r.account_id = ${redeemerId}
      where s.account_id = ${survivorId} and s.reason = 'free'
    ),
    dropped as (delete from ${creditLedger} where id in (select redeemer_row from days))
    update ${creditLedger} set delta = days.merged from days where ${creditLedger.id} = days.survivor_row`);
}
