import type { Conversation } from '../../db/schema.js';
import type { Reply } from './reply.js';

/** What a delivery is about: progress (may edit an earlier message) or the final outcome. */
export type DeliveryKind = 'progress' | 'final';

/**
 * A platform's way of answering into a conversation, used by the delivery worker. Implementations
 * render the {@link Reply} for their platform and return the ids of the messages that show each image
 * (same order as `reply.images`), so reactions on them can be traced back to results.
 */
export interface Deliverer {
  deliver(conversation: Conversation, reply: Reply, kind: DeliveryKind, jobId: string): Promise<{ imageMessageIds: (string | undefined)[] }>;
  /**
   * Called once a job's final outcome is recorded as delivered: what the deliverer kept to resume
   * an interrupted delivery (which messages were already sent) is no longer needed.
   */
  settled?(jobId: string): Promise<void>;
}

/** Links to files too large for a chat: the HTTP server's signed, expiring downloads (`/files/<token>`). */
export interface SignedLinks {
  /** A time-limited download URL for an artifact, or undefined when none can be made (no PUBLIC_URL). */
  urlFor(artifactKey: string, filename: string): Promise<string | undefined>;
}
