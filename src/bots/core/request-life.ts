import { isAppError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { catalogEntry, takesPhotos } from './command-catalog.js';
import type { CommandLayer } from './command-layer.js';
import { isOwner } from './commands/shared.js';
import type { ChatPort, StatusContext } from './deliverer.js';
import type { HeldRequest, HeldRequests } from './held-requests.js';
import type { IntakeGate } from './intake-gate.js';
import { endedStatus } from './job-updates.js';
import { messageFor } from './messages.js';
import type { Conversation, Job, Result } from './model.js';
import { info, type Reply } from './reply.js';
import type { Repositories } from './repositories.js';
import type { CommandName, Request } from './request.js';
import { checkingText, ONE_MOMENT_TEXT } from './status-text.js';

/** What a reaction on one of our messages asks for. `variant`: the portrait picked (Discord's 1️⃣–4️⃣); absent, the one the message shows. */
export type ReactionIntent = { kind: 'upscale'; variant?: number } | { kind: 'reroll' } | { kind: 'notthem' } | { kind: 'delete' };

/** A reaction, as an adapter reads it from its platform. */
export interface ReactionEvent {
  /** The platform's id of the event, or one that repeats only when the same person adds the same reaction again. */
  eventId: string;
  user: Request['user'];
  chatId: string;
  messageId: string;
  /** How `results.platform_message_id` names the message. */
  messageKey: string;
  intent: ReactionIntent;
}

/**
 * Where one request's answer is shown when the platform already shows something for it (Discord's
 * deferred reply, edited in place). Without one, the core posts a status message and edits it.
 */
export type AnswerView = (reply: Reply) => Promise<unknown>;

/** The life of a request on one platform, from its first word to the answer that replaces it. */
export interface RequestLife {
  /**
   * A typed command, a caption with photos or a button press: a first word on the status (for work,
   * before any download), the command layer's answer in its place, the terms card and its held
   * request, and a fast job's outcome said again when it beat the answer. Resolves with the answer.
   */
  submit(request: Request, view?: AnswerView): Promise<Reply>;
  /** A reaction on a message: ignored unless it is on one of our results and by their owner. */
  react(reaction: ReactionEvent): Promise<void>;
}

export interface RequestLifeDeps {
  commands: CommandLayer;
  repos: Pick<Repositories, 'jobs' | 'results' | 'accounts'>;
  chat: ChatPort;
  held: HeldRequests;
  /** Photo work a few at a time, after the acknowledgements in flight (absent: straight through). */
  gate?: IntakeGate;
  logger: Logger;
}

/** Pure: the request a reaction makes on a job's results, 'delete', or undefined when it asks nothing of them. */
export function reactionMeaning(intent: ReactionIntent, job: Pick<Job, 'id' | 'kind'>, results: readonly Pick<Result, 'id' | 'variant'>[]): { command: CommandName; target: string } | 'delete' | undefined {
  switch (intent.kind) {
    case 'delete':
      return 'delete';
    case 'upscale': {
      // ❤ on the 8K file is thanks, not a request.
      if (job.kind === 'upscale') return undefined;
      const picked = intent.variant === undefined ? (results.length === 1 ? results[0] : undefined) : results.find((r) => r.variant === intent.variant);
      return picked ? { command: 'upscale', target: picked.id } : undefined;
    }
    case 'reroll':
    case 'notthem':
      return job.kind === 'portrait' ? { command: intent.kind, target: job.id } : undefined;
  }
}

export function createRequestLife(deps: RequestLifeDeps): RequestLife {
  const { chat, logger } = deps;

  /** The command layer, behind the intake gate: photo work a few at a time, after urgent acknowledgements. */
  async function handle(request: Request): Promise<Reply> {
    if (!deps.gate) return deps.commands.handle(request);
    if (request.photos?.length) {
      return deps.gate.heavy(() => deps.commands.handle(request)).catch((error: unknown) => {
        if (!isAppError(error)) throw error;
        return { text: messageFor(error.code), tone: 'error' as const, ephemeral: true, code: error.code };
      });
    }
    await deps.gate.quiet();
    return deps.commands.handle(request);
  }

  /** Work gets a first word at once, before any download, so the person hears back within a second. */
  async function firstWord(request: Request): Promise<Conversation> {
    const entry = catalogEntry(request.command);
    const photos = request.photos?.length ?? 0;
    if (!entry.queuesWork || (takesPhotos(request.command) && photos === 0)) return request.conversation;
    const text = photos > 0 ? checkingText(photos) : ONE_MOMENT_TEXT;
    const id = await chat.status.post(request.conversation, info(text), { stage: 'answer' });
    return id ? { ...request.conversation, statusMessageId: id } : request.conversation;
  }

  /**
   * A fast job may be delivered before its answer ("queued") was written over the status: then the
   * delivery's last word was overwritten, and is said again. A redelivered event's status belongs
   * to the first, and is left alone.
   */
  async function reconcile(jobId: string, conversation: Conversation, show: AnswerView): Promise<void> {
    const job = await deps.repos.jobs.get(jobId);
    const mine = job?.conversation?.interactionId === conversation.interactionId && job?.conversation?.statusMessageId === conversation.statusMessageId;
    const ended = job && mine ? endedStatus(job) : undefined;
    if (ended) await show(ended);
  }

  async function hold(request: Request): Promise<void> {
    const photos = request.photos ?? [];
    if (photos.some((p) => !p.ref)) return; // a source the adapter cannot find again (the CLI's files) is not held
    const { photos: _bytes, ...rest } = request;
    const held: HeldRequest = { request: { ...rest }, photos: photos.map((p) => ({ label: p.label, declaredBytes: p.declaredBytes, ref: p.ref! })) };
    await deps.held.hold(held).catch((error: unknown) => logger.warn({ err: error, platform: request.platform }, 'could not keep the request for after the terms'));
  }

  /** The photo request that waited for the terms, as it came. */
  async function takeHeld(request: Request): Promise<Request | undefined> {
    const held = await deps.held.take(request.platform, request.user.id).catch(() => undefined);
    if (!held || !chat.photoSource) return undefined;
    const read = chat.photoSource.bind(chat);
    return { ...held.request, photos: held.photos.map((p) => ({ ...read(p.ref, p.label), declaredBytes: p.declaredBytes })) };
  }

  const self: RequestLife = {
    async submit(request, view) {
      const conversation = view ? request.conversation : await firstWord(request);
      const reply = await handle({ ...request, conversation });
      const context: StatusContext = { stage: 'answer', jobId: reply.job?.id };
      const show: AnswerView =
        view ??
        (async (answer) => {
          if (!(await chat.status.edit(conversation, answer, context))) await chat.status.post(request.conversation, answer, context);
        });
      await show(reply);
      if (reply.job) await reconcile(reply.job.id, conversation, view ?? ((answer) => chat.status.edit(conversation, answer, context)));
      // A first-time user met the terms card: once they agree, this request runs without being sent again.
      if (reply.code === 'CONSENT_REQUIRED' && request.photos?.length) await hold(request);
      if (request.command === 'consent' && reply.tone !== 'error') {
        const waiting = await takeHeld(request);
        // Answered in place (a Discord press), it resumes on the press, whose token is fresh; else where it was asked.
        const conversation = view && waiting ? { ...request.conversation, ...(waiting.conversation.private ? { private: true } : {}) } : waiting?.conversation;
        if (waiting && conversation) await self.submit({ ...waiting, conversation }, view);
      }
      return reply;
    },

    async react(reaction) {
      const results = await deps.repos.results.shownBy(reaction.messageKey);
      const job = results[0] && (await deps.repos.jobs.get(results[0].jobId));
      if (!job) return; // not one of our pictures
      const meaning = reactionMeaning(reaction.intent, job, results);
      if (!meaning) return;
      // Only the requester's reactions count; everyone else's are left alone (in a group, ❤ is often just applause).
      const account = await deps.repos.accounts.find({ platform: chat.platform, userId: reaction.user.id });
      if (!isOwner(account, job)) return;
      const log = logger.child({ messageKey: reaction.messageKey, reaction: reaction.intent.kind, jobId: job.id });
      if (meaning === 'delete') {
        if (!chat.deleteMessage) return;
        await chat.deleteMessage(reaction.chatId, reaction.messageId);
        log.info('result message deleted by its requester');
        return;
      }
      const conversation: Conversation = {
        platform: chat.platform,
        chatId: reaction.chatId,
        messageId: reaction.messageId,
        // The forum topic of the request, when the reaction is in that chat (private results are not).
        ...(job.conversation?.chatId === reaction.chatId && job.conversation.topicId ? { topicId: job.conversation.topicId } : {}),
        userId: reaction.user.id,
        ...(job.conversation?.private ? { private: true } : {}),
      };
      await self.submit({ platform: chat.platform, eventId: reaction.eventId, user: reaction.user, conversation, command: meaning.command, target: meaning.target });
    },
  };
  return self;
}
