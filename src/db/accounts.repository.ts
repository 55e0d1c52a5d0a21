import { and, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from './client.js';
import type { PlatformUser } from '../bots/core/repositories.js';
import { accounts, identities, type Account } from './schema.js';
import { restoreFromTombstone } from './tombstones.repository.js';

/**
 * The account behind a platform user, created on first sight (safe under concurrent first
 * requests). With `tombstones`, a user who was forgotten before gets their ban back and today's
 * free credits as used as they were.
 */
export async function resolveAccount(db: DbOrTx, user: PlatformUser, tombstones?: { key: string; now?: Date }): Promise<Account> {
  const existing = await findAccountByIdentity(db, user);
  if (existing) return existing;
  return db.transaction(async (tx) => {
    const [account] = await tx.insert(accounts).values({}).returning();
    const inserted = await tx
      .insert(identities)
      .values({ accountId: account!.id, platform: user.platform, platformUserId: user.userId, displayName: user.displayName })
      .onConflictDoNothing()
      .returning();
    if (inserted.length > 0) {
      if (!tombstones) return account!;
      await restoreFromTombstone(tx, account!.id, user, tombstones.key, tombstones.now ?? new Date());
      return (await tx.select().from(accounts).where(eq(accounts.id, account!.id)))[0]!;
    }
    // Another request created this identity first: use its account, drop ours.
    await tx.delete(accounts).where(eq(accounts.id, account!.id));
    return (await findAccountByIdentity(tx, user))!;
  });
}

export async function findAccountByIdentity(db: DbOrTx, user: Pick<PlatformUser, 'platform' | 'userId'>): Promise<Account | undefined> {
  const rows = await db
    .select({ account: accounts })
    .from(identities)
    .innerJoin(accounts, eq(accounts.id, identities.accountId))
    .where(and(eq(identities.platform, user.platform), eq(identities.platformUserId, user.userId)))
    .limit(1);
  return rows[0]?.account;
}

/** Locks the account row for the rest of the transaction: one credit decision at a time per person. */
export async function lockAccount(db: DbOrTx, accountId: string): Promise<Account | undefined> {
  const rows = await db.select().from(accounts).where(eq(accounts.id, accountId)).for('update');
  return rows[0];
}

export async function recordConsent(db: DbOrTx, accountId: string, at: Date = new Date()): Promise<void> {
  await db.update(accounts).set({ consentedAt: sql`coalesce(${accounts.consentedAt}, ${at.toISOString()}::timestamptz)` }).where(eq(accounts.id, accountId));
}

export async function setBanned(db: DbOrTx, accountId: string, banned: boolean, reason?: string): Promise<void> {
  await db
    .update(accounts)
    .set(banned ? { bannedAt: new Date(), banReason: reason ?? null } : { bannedAt: null, banReason: null })
    .where(eq(accounts.id, accountId));
}
