import { sql } from 'drizzle-orm';
import type { Account as CoreAccount, Conversation, Job as CoreJob, Result as CoreResult } from '../bots/core/model.js';
import { JOB_KINDS, JOB_STATUSES } from '../bots/core/model.js';
import { bigserial, check, date, index, integer, jsonb, numeric, pgTable, real, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

/** A person using Likeness, whichever platforms they come from. */
export const accounts = pgTable('accounts', {
  id: uuid('id').primaryKey().defaultRandom(),
  createdAt: createdAt(),
  consentedAt: timestamp('consented_at', { withTimezone: true }),
  bannedAt: timestamp('banned_at', { withTimezone: true }),
  banReason: text('ban_reason'),
});

/** A platform user (telegram:123, discord:456, cli:alice) and the account it belongs to. */
export const identities = pgTable(
  'identities',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    accountId: uuid('account_id').notNull().references(() => accounts.id, { onDelete: 'cascade' }),
    platform: text('platform').notNull(),
    platformUserId: text('platform_user_id').notNull(),
    displayName: text('display_name'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('identities_platform_user_uq').on(t.platform, t.platformUserId), index('identities_account_idx').on(t.accountId)],
);

/** One unit of GPU work and everything needed to account for it. */
export const jobs = pgTable(
  'jobs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    // Nullable: /forget detaches a user's jobs, leaving only anonymous usage.
    accountId: uuid('account_id').references(() => accounts.id, { onDelete: 'set null' }),
    kind: text('kind', { enum: JOB_KINDS }).notNull(),
    style: text('style'),
    subject: text('subject'),
    status: text('status', { enum: JOB_STATUSES }).notNull().default('queued'),
    idempotencyKey: text('idempotency_key').notNull(),
    conversation: jsonb('conversation').$type<Conversation>(),
    inputs: jsonb('inputs').$type<string[]>().notNull().default([]),
    params: jsonb('params').$type<Record<string, unknown>>().notNull().default({}),
    price: integer('price').notNull(),
    backend: text('backend'),
    model: text('model'),
    gpuSeconds: real('gpu_seconds'),
    costUsd: numeric('cost_usd', { precision: 12, scale: 6 }),
    attempts: integer('attempts').notNull().default(0),
    errorCode: text('error_code'),
    parentJobId: uuid('parent_job_id'),
    /** Regenerations of weak variants by the likeness gate; their GPU cost is in gpuSeconds/costUsd, never charged. */
    likenessRetries: integer('likeness_retries').notNull().default(0),
    /** When retention (or /forget) deleted the stored input photos. */
    inputsPurgedAt: timestamp('inputs_purged_at', { withTimezone: true }),
    createdAt: createdAt(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    /** Why the outcome could never reach its chat (bot blocked, chat gone…), recorded once. */
    undeliveredReason: text('undelivered_reason'),
  },
  (t) => [
    uniqueIndex('jobs_idempotency_key_uq').on(t.idempotencyKey),
    index('jobs_account_created_idx').on(t.accountId, t.createdAt),
    index('jobs_active_idx').on(t.accountId).where(sql`status in ('queued', 'running')`),
    index('jobs_parent_idx').on(t.parentJobId),
    // Retention walks jobs whose inputs are still stored, oldest first.
    index('jobs_unpurged_created_idx').on(t.createdAt).where(sql`inputs_purged_at is null`),
  ],
);

/** One image a job produced, and the platform message it was posted as. */
export const results = pgTable(
  'results',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    jobId: uuid('job_id').notNull().references(() => jobs.id, { onDelete: 'cascade' }),
    variant: integer('variant').notNull(),
    artifactKey: text('artifact_key').notNull(),
    width: integer('width').notNull(),
    height: integer('height').notNull(),
    bytes: integer('bytes').notNull(),
    platformMessageId: text('platform_message_id'),
    /** 0–100: how much the variant's face resembles the reference photos; null when not measured. */
    likenessScore: real('likeness_score'),
    /** The requester's own verdict on this variant (`not_them` from 👎), beside the score. */
    verdict: text('verdict'),
    /** When retention deleted the stored image; the row keeps the usage. */
    purgedAt: timestamp('purged_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('results_job_variant_uq').on(t.jobId, t.variant),
    index('results_message_idx').on(t.platformMessageId),
    // Retention walks results whose image is still stored, oldest first.
    index('results_unpurged_created_idx').on(t.createdAt).where(sql`purged_at is null`),
  ],
);

/**
 * `likeness_refund`: credits given back for variants the likeness gate could not make good (at most
 * once per job and pocket). `carried`: free credits a person already used today before /forget,
 * written when the same chat identity comes back, so forgetting does not refill the day.
 */
export const LEDGER_REASONS = ['free', 'grant', 'reserve', 'commit', 'refund', 'likeness_refund', 'carried'] as const;
export type LedgerReason = (typeof LEDGER_REASONS)[number];
export const POCKETS = ['free', 'paid'] as const;
export type Pocket = (typeof POCKETS)[number];

/**
 * Every credit movement. A balance is a sum over these rows, never a stored counter.
 * Free daily credits live in the `free` pocket of their day and lapse with it; grants in `paid`.
 */
export const creditLedger = pgTable(
  'credit_ledger',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    accountId: uuid('account_id').notNull().references(() => accounts.id, { onDelete: 'cascade' }),
    jobId: uuid('job_id').references(() => jobs.id, { onDelete: 'set null' }),
    delta: integer('delta').notNull(),
    reason: text('reason', { enum: LEDGER_REASONS }).notNull(),
    pocket: text('pocket', { enum: POCKETS }).notNull(),
    freeDay: date('free_day'),
    note: text('note'),
    /** Set on grants: `<platform>:<event id>` of the admin's command, so a redelivered command grants once. */
    idempotencyKey: text('idempotency_key'),
    createdAt: createdAt(),
  },
  (t) => [
    // The guarantee behind "never charged twice": one row per job, reason and pocket.
    uniqueIndex('credit_ledger_job_reason_uq').on(t.jobId, t.reason, t.pocket),
    uniqueIndex('credit_ledger_idempotency_key_uq').on(t.idempotencyKey).where(sql`idempotency_key is not null`),
    uniqueIndex('credit_ledger_free_day_uq').on(t.accountId, t.freeDay).where(sql`reason = 'free'`),
    index('credit_ledger_account_idx').on(t.accountId, t.pocket, t.freeDay),
    check('credit_ledger_free_pocket_has_day', sql`(pocket = 'free') = (free_day is not null)`),
  ],
);

/**
 * What is kept of a forgotten chat identity, and nothing else: a keyed hash of `platform:user id`
 * (a database dump alone does not say who), its ban, and the free credits it had used that day. A
 * person who comes back finds them again, so /forget is no way out of a ban or into more free credits.
 */
export const forgottenIdentities = pgTable('forgotten_identities', {
  identityHash: text('identity_hash').primaryKey(),
  bannedAt: timestamp('banned_at', { withTimezone: true }),
  banReason: text('ban_reason'),
  freeDay: date('free_day'),
  freeUsed: integer('free_used').notNull().default(0),
  forgottenAt: timestamp('forgotten_at', { withTimezone: true }).notNull().defaultNow(),
});

/** A one-time code from `/link`: redeemed from another platform, it joins that identity's account to this one. */
export const linkCodes = pgTable(
  'link_codes',
  {
    /** sha256 of the code: a database dump does not hand out live codes. */
    codeHash: text('code_hash').primaryKey(),
    accountId: uuid('account_id').notNull().references(() => accounts.id, { onDelete: 'cascade' }),
    /**
     * Set on a confirmation code: the account that redeemed the offer from another platform, to be
     * joined once `account_id` (the offer's maker) sends this code back. Null on an offer.
     */
    redeemerAccountId: uuid('redeemer_account_id').references(() => accounts.id, { onDelete: 'cascade' }),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('link_codes_account_idx').on(t.accountId)],
);

export type Account = typeof accounts.$inferSelect;
export type Job = typeof jobs.$inferSelect;
export type Result = typeof results.$inferSelect;
export type { Conversation } from '../bots/core/model.js';
export { JOB_KINDS, JOB_STATUSES, type JobStatus } from '../bots/core/model.js';

/** The rows must stay what the command layer takes them to be: a column change that breaks that fails here. */
type Assignable<From extends To, To> = From;
export type RowsFitTheCore = [Assignable<Account, CoreAccount>, Assignable<Job, CoreJob>, Assignable<Result, CoreResult>];
export type LedgerRow = typeof creditLedger.$inferSelect;
