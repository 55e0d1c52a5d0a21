import type { Conversation, JobKind, Platform } from './model.js';
import type { Reply } from './reply.js';
import type { PhotoRef, PhotoSource } from './request.js';

/** Which moment of a request's life a status message shows. */
export type StatusStage =
  /** The command layer's answer: "queued — position N", the terms card, or why not. */
  | 'answer'
  /** A worker has started on the job. */
  | 'progress'
  /** The job ended without pictures (a failure and its refund). */
  | 'outcome'
  /** The pictures are posted. */
  | 'done';

export interface StatusContext {
  stage: StatusStage;
  /** The job the status is about, once there is one. */
  jobId?: string;
  /** Its kind, when known: an adapter may show "sending a file…" for an upscale. */
  jobKind?: JobKind;
}

/**
 * The one message that follows a request from its first word to "done". The command layer decides
 * what it says and when; the adapter renders the reply (text and buttons) for its platform.
 */
export interface StatusChannel {
  /** Posts a new message answering the conversation's request; its id, when the platform gives one. */
  post(conversation: Conversation, reply: Reply, context: StatusContext): Promise<string | undefined>;
  /** Rewrites the status message (the conversation's `statusMessageId`, or the interaction's reply); false when there is none or it is gone. */
  edit(conversation: Conversation, reply: Reply, context: StatusContext): Promise<boolean>;
}

/**
 * One chat platform as the command layer reaches it. The adapter implements it; what is said,
 * when, and what follows a failure is decided in the core (DESIGN §2).
 */
export interface ChatPort {
  readonly platform: Platform;
  readonly status: StatusChannel;
  /**
   * Posts a finished job's pictures with the reply's text and buttons. `shown` is awaited for each
   * picture the moment its message is out, so a reaction finds it at once. A retried call resumes
   * instead of posting twice. Throws {@link UndeliverableError} when the chat will never take it;
   * any other throw is retried by the delivery queue. `privately`: the pictures went to the
   * requester's private chat instead of the conversation (a memorial asked for in a group).
   */
  postResults(conversation: Conversation, reply: Reply, jobId: string, shown: (imageIndex: number, messageKey: string) => Promise<void>): Promise<{ privately: boolean }>;
  /** A word to the requester by any way left (their private chat, a DM) when the conversation is closed; false when there is none. */
  tellPrivately?(conversation: Conversation, text: string): Promise<boolean>;
  /** Deletes a message the bot posted (❌ on a result). */
  deleteMessage?(chatId: string, messageId: string): Promise<void>;
  /** A photo held behind the terms card, readable again from what the adapter put in its `ref`. */
  photoSource?(ref: PhotoRef, label: string): PhotoSource;
  /** The job's outcome is recorded: what the adapter kept to resume an interrupted delivery can go. */
  settled?(jobId: string): Promise<void>;
}

/** The chat will never take this delivery (blocked, removed, no right to post): retrying cannot help. */
export class UndeliverableError extends Error {
  constructor(
    /** Why, in a few words for the operator (`jobs.undelivered_reason`), never a token. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`undeliverable: ${reason}`, options);
    this.name = 'UndeliverableError';
  }
}

/** Links to files too large for a chat: the HTTP server's signed, expiring downloads (`/files/<token>`). */
export interface SignedLinks {
  /** A time-limited download URL for an artifact, or undefined when none can be made (no PUBLIC_URL). */
  urlFor(artifactKey: string, filename: string): Promise<string | undefined>;
}
