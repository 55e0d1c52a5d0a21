import { createHmac } from 'node:crypto';
import { and, eq, ne, sql } from 'drizzle-orm';
import { utcDay } from '../bots/core/credit-rules.js';
import type { DbOrTx } from './client.js';
import { accounts, creditLedger, forgottenIdentities, identities } from './schema.js';

/** A chat identity as the tombstones name it: HMAC-SHA256 of `platform:user id` under the operator's key. */
export const identityHash = (key: string, platform: string, userId: string): string => createHmac('sha256', key).update(`${platform}:${userId}`).digest('hex');

/**
 * Inside /forget's transaction, before the account goes: one tombstone per identity of the
 * account, holding only its ban and the free credits used today. A later /forget replaces it.
 */
export async function leaveTombstones(tx: DbOrTx, accountId: string, key: string, now: Date): Promise<void> {
  const day = utcDay(now);
  const [account] = await tx.select({ bannedAt: accounts.bannedAt, banReason: accounts.banReason }).from(accounts).where(eq(accounts.id, accountId));
  if (!account) return;
  const [spent] = await tx
    .select({ used: sql<number>`greatest(0, -coalesce(sum(${creditLedger.delta}), 0))::int` })
    .from(creditLedger)
    .where(and(eq(creditLedger.accountId, accountId), eq(creditLedger.pocket, 'free'), eq(creditLedger.freeDay, day), ne(creditLedger.reason, 'free')));
  const owned = await tx.select({ platform: identities.platform, userId: identities.platformUserId }).from(identities).where(eq(identities.accountId, accountId));
  for (const identity of owned) {
    const stone = { identityHash: identityHash(key, identity.platform, identity.userId), bannedAt: account.bannedAt, banReason: account.banReason, freeDay: day, freeUsed: spent?.used ?? 0, forgottenAt: now };
    await tx.insert(forgottenIdentities).values(stone).onConflictDoUpdate({ target: forgottenIdentities.identityHash, set: { ...stone } });
  }
}

/** A new account for an identity that was forgotten before: its ban again, and today's free credits as used as they were. */
export async function restoreFromTombstone(tx: DbOrTx, accountId: string, user: { platform: string; userId: string }, key: string, now: Date): Promise<void> {
  const [stone] = await tx.select().from(forgottenIdentities).where(eq(forgottenIdentities.identityHash, identityHash(key, user.platform, user.userId)));
  if (!stone) return;
  if (stone.bannedAt) await tx.update(accounts).set({ bannedAt: stone.bannedAt, banReason: stone.banReason }).where(eq(accounts.id, accountId));
  const day = utcDay(now);
  if (stone.freeDay === day && stone.freeUsed > 0) {
    await tx.insert(creditLedger).values({ accountId, delta: -stone.freeUsed, reason: 'carried', pocket: 'free', freeDay: day, note: 'used before /forget' });
  }
}
