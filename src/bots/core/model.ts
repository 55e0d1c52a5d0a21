/**
 * The command layer's own nouns: who asks, where the answer goes, and the records it reasons
 * about. `src/db` stores them (its rows must stay assignable to these, see schema.ts); adapters
 * fill `Conversation` from their platform's events.
 */

export type Platform = 'telegram' | 'discord' | 'cli';

/** Where to answer: the conversation a request came from. */
export interface Conversation {
  platform: string;
  chatId: string;
  /** The request message to reply to, when the platform has one. */
  messageId?: string;
  /** A Telegram forum topic the request was made in: answers go to the same topic. */
  topicId?: string;
  /**
   * The Discord interaction that made the request: its follow-up token is looked up by this id
   * (the token itself is never stored here).
   */
  interactionId?: string;
  /** Send results privately when the platform allows (memorial). */
  private?: boolean;
  /** Others read what is said here (a group chat); absent where answers are the requester's alone (a private chat, an ephemeral reply). */
  shared?: boolean;
  /** The requester's platform user id: lets an adapter turn away others' button presses without a lookup. */
  userId?: string;
  /**
   * The message that shows the job's status ("queued — position N"), posted before the job existed,
   * so whichever process delivers can edit it as the job moves.
   */
  statusMessageId?: string;
}

export const JOB_KINDS = ['portrait', 'restore', 'upscale'] as const;
export type JobKind = (typeof JOB_KINDS)[number];
export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** A person using Likeness, whichever platforms they come from. */
export interface Account {
  id: string;
  createdAt: Date;
  consentedAt: Date | null;
  bannedAt: Date | null;
  banReason: string | null;
}

/** One unit of GPU work, as the command layer reads it. */
export interface Job {
  id: string;
  accountId: string | null;
  kind: JobKind;
  style: string | null;
  subject: string | null;
  status: JobStatus;
  idempotencyKey: string;
  conversation: Conversation | null;
  inputs: string[];
  /** Read through the job kind's schema (`src/jobs/job-params.ts`), never field by field. */
  params: Record<string, unknown>;
  price: number;
  backend: string | null;
  model: string | null;
  errorCode: string | null;
  parentJobId: string | null;
  inputsPurgedAt: Date | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  deliveredAt: Date | null;
  /** Why the outcome could never reach its chat (bot blocked, chat gone…); null when it did. */
  undeliveredReason: string | null;
}

/** One image a job produced, and the platform message it was posted as. */
export interface Result {
  id: string;
  jobId: string;
  variant: number;
  artifactKey: string;
  width: number;
  height: number;
  bytes: number;
  platformMessageId: string | null;
  likenessScore: number | null;
  verdict: string | null;
  purgedAt: Date | null;
  createdAt: Date;
}
