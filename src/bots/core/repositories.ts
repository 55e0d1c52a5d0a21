import type { Balance, SubmissionRules } from './credit-rules.js';
import type { Account, Conversation, Job, JobKind, Result } from './model.js';

/**
 * What the command layer keeps and reads, as ports. `src/db` implements them on Postgres
 * (`createRepositories`); tests may implement them in memory. Every method that writes is safe to
 * repeat: a retried request or delivery changes nothing the first one did.
 */

/** A user as a platform knows them. */
export interface PlatformUser {
  platform: string;
  userId: string;
  displayName?: string;
}

export interface AccountRepository {
  /** The account behind a platform user, created on first sight (safe under concurrent first requests). */
  resolve(user: PlatformUser): Promise<Account>;
  /** The account behind a platform user, without creating one. */
  find(user: Pick<PlatformUser, 'platform' | 'userId'>): Promise<Account | undefined>;
  recordConsent(accountId: string, at: Date): Promise<void>;
  setBanned(accountId: string, banned: boolean, reason?: string): Promise<void>;
}

/** A new job and the price to reserve for it. */
export interface NewJob {
  accountId: string;
  kind: JobKind;
  idempotencyKey: string;
  conversation: Conversation;
  inputs: string[];
  params: object;
  style?: string;
  subject?: string;
  price: number;
  parentJobId?: string;
  /** Set by callers that must know the id before the row exists (input artifact keys). */
  id?: string;
}

export interface SubmissionRepository {
  /**
   * The credit decision without writing anything, so a request is refused before its photos are
   * downloaded: throws QUOTA_EXCEEDED / TOO_MANY_ACTIVE_JOBS; returns the job an earlier delivery of
   * the same event made.
   */
  check(accountId: string, idempotencyKey: string, price: number, rules: SubmissionRules, now: Date): Promise<{ existingJobId?: string }>;
  /** Creates the job with its price reserved, in one transaction; `duplicate` when the key already had a job. */
  create(job: NewJob, rules: SubmissionRules, now: Date): Promise<{ jobId: string; duplicate: boolean }>;
}

export interface JobRepository {
  get(jobId: string): Promise<Job | undefined>;
  getByKey(idempotencyKey: string): Promise<Job | undefined>;
  /** The person's jobs that have not ended: waiting or running. */
  activeOf(accountId: string): Promise<Job[]>;
  recentOf(accountId: string, limit: number): Promise<Job[]>;
  /** Ends a queued or running job and refunds its reservation once; the credits refunded, or undefined when it had already ended. */
  endWithRefund(jobId: string, status: 'failed' | 'cancelled', errorCode: string | null): Promise<number | undefined>;
  /** Refunds a finished job's credits once per job (an outcome that never reached its chat); 0 when already refunded. */
  refundSucceeded(jobId: string): Promise<number>;
  /** 👎 "not them": a finished set refunded at most once per original request (the first job and all its re-rolls); 0 otherwise. */
  refundRejectedSet(jobId: string): Promise<number>;
  /** Mean wall time of the last finished jobs of a kind, for queue estimates. */
  recentMeanSeconds(kind: JobKind): Promise<number | undefined>;
  /** The outcome reached its chat. */
  markDelivered(jobId: string): Promise<void>;
  /** The outcome can never reach its chat: why, recorded once; the job counts as delivered (nothing is retried). */
  markUndeliverable(jobId: string, reason: string): Promise<void>;
}

export interface ResultRepository {
  ofJob(jobId: string): Promise<Result[]>;
  /** A result with the job that made it. */
  withJob(resultId: string): Promise<{ result: Result; job: Job } | undefined>;
  /** The results a platform message shows (recorded as each was posted), in variant order. */
  shownBy(messageKey: string): Promise<Result[]>;
  /** Records which platform message shows a result, the moment it is posted. */
  recordShown(resultId: string, messageKey: string): Promise<void>;
  /** Records the requester's verdict on every result of a job (👎: `not_them`), beside the likeness scores. */
  recordVerdict(jobId: string, verdict: 'not_them'): Promise<void>;
}

export interface LedgerRepository {
  balance(accountId: string, freeDaily: number, day: string): Promise<Balance>;
  /**
   * Adds (or with a negative amount, removes) paid credits, once per `idempotencyKey` (e.g.
   * `<platform>:<event id>` of the admin's command): a repeat with the same key writes nothing and
   * returns false.
   */
  grant(accountId: string, amount: number, note: string, idempotencyKey: string): Promise<boolean>;
}

export type LinkOutcome =
  | { status: 'linked'; accountId: string; platforms: string[] }
  /** An offer redeemed from another platform: the confirmation code now waits for the offer's maker, on `platforms`. */
  | { status: 'confirm'; platforms: string[] }
  /** Unknown, used or expired: the same answer for each, so codes cannot be probed. */
  | { status: 'invalid' }
  | { status: 'same-account' }
  /** Both accounts already have an identity on one platform: one person, one identity per platform. */
  | { status: 'same-platform'; platform: string };

export interface LinkRepository {
  /** Stores a fresh one-time code for the account; earlier codes of that account stop working. */
  createCode(accountId: string, code: string, expiresAt: Date): Promise<void>;
  /**
   * A code sent by `senderAccountId`. An offer (from /link) sent from another platform becomes the
   * confirmation code `confirmation`, which only the offer's maker can redeem; the confirmation sent
   * by the offer's maker joins the redeemer's identities, jobs and ledger to its account. Every code works once.
   */
  redeem(code: string, senderAccountId: string, now: Date, confirmation: { code: string; expiresAt: Date }): Promise<LinkOutcome>;
}

/** What forgetting a person did. */
export interface ForgetOutcome {
  /** Every job of the person, now anonymous: their stored files must go next. */
  jobIds: string[];
  /** Jobs that were still waiting and are now cancelled: take them off the queue too. */
  cancelledJobIds: string[];
  /** Jobs that were running and are now cancelled: their workers must be told to stop. */
  stoppedJobIds: string[];
}

export interface ForgetRepository {
  /** Erases a person in one transaction; their jobs stay as anonymous usage. */
  forget(accountId: string): Promise<ForgetOutcome>;
  /** Marks forgotten jobs whose files are deleted, so the retention run does not look again. */
  markFilesErased(jobIds: string[]): Promise<void>;
}

/** Jobs, GPU time and cost of one slice of usage. */
export interface UsageLine {
  key: string;
  jobs: number;
  gpuSeconds: number;
  costUsd: number;
}

/** What `/admin stats` shows: totals by status, then usage by UTC day, backend and user. */
export interface UsageReport {
  byStatus: Record<string, number>;
  total: UsageLine;
  byDay: UsageLine[];
  byBackend: UsageLine[];
  /** The heaviest users by cost, then jobs; `key` is `platform:id (name)`, or `forgotten` for erased people. */
  topUsers: UsageLine[];
}

/** How well the likeness score foresaw the requesters' own verdicts. */
export interface LikenessAgreement {
  since: Date;
  /** The score under which a set counts as weak (its lowest variant): LIKENESS_MIN. */
  threshold: number;
  /** Delivered portrait sets with scores since `since`. */
  sets: number;
  /** 👎 sets the score also called weak / called fine. */
  rejectedLow: number;
  rejectedHigh: number;
  /** Sets kept (no 👎) that the score called weak / fine. */
  keptLow: number;
  keptHigh: number;
  /** (rejectedLow + keptHigh) / sets: how often score and verdict agree; null with no sets. */
  rate: number | null;
  /** Mean of each set's lowest score, for 👎 sets and kept sets; null when there are none. */
  meanLowestRejected: number | null;
  meanLowestKept: number | null;
}

export interface ReportRepository {
  usage(since: Date): Promise<UsageReport>;
  likenessAgreement(since: Date, threshold?: number): Promise<LikenessAgreement>;
}

/** Every repository the command layer uses. */
export interface Repositories {
  accounts: AccountRepository;
  submissions: SubmissionRepository;
  jobs: JobRepository;
  results: ResultRepository;
  ledger: LedgerRepository;
  links: LinkRepository;
  forget: ForgetRepository;
  reports: ReportRepository;
}
