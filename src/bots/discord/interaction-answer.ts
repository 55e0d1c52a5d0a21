import { randomBytes } from 'node:crypto';
import type { Interaction, RepliableInteraction } from 'discord.js';
import type { App } from '../../app.js';
import { getJob } from '../../db/jobs.repository.js';
import type { Conversation } from '../../db/schema.js';
import type { Logger } from '../../logger.js';
import { failedReply } from '../core/job-updates.js';
import { apology } from '../core/messages.js';
import type { Reply } from '../core/reply.js';
import type { Request } from '../core/request.js';
import type { AckFirst } from './ack-first.js';
import { isStaleInteraction, safeDiscordError } from './discord-errors.js';
import type { DiscordState } from './discord-state.js';
import { JOB_COMMANDS, messageBody } from './discord-translation.js';
import { DONE_TEXT } from './discord.deliverer.js';

/** An interaction token works for 15 minutes; it is kept a minute less, so a delivery never races its end. */
export const TOKEN_KEEP_MS = 14 * 60 * 1000;

export interface InteractionAnswerDeps {
  app: Pick<App, 'commands' | 'database'>;
  ackFirst: AckFirst;
  state: DiscordState;
}

/**
 * A child logger made on first use: pino's child() runs its redaction over the bindings, which
 * over a burst of interactions costs more than it is worth before anything needs logging.
 */
export interface LazyLogger {
  (): Logger;
  isLevelEnabled(level: string): boolean;
}

/** A {@link LazyLogger} for `parent.child(bindings)`. */
export function lazyChild(parent: Logger, bindings: () => Record<string, unknown>): LazyLogger {
  let child: Logger | undefined;
  return Object.assign(() => (child ??= parent.child(bindings())), { isLevelEnabled: (level: string) => parent.isLevelEnabled(level) });
}

/** A status message's new text, with its buttons cleared. */
export type StatusEdit = (body: { content: string; components: [] }) => Promise<unknown>;

/**
 * The flow every acknowledged interaction shares: wait for the acknowledgement, run the request
 * through the command layer (after the acknowledgements in flight), and show its answer by
 * editing the deferred reply.
 */
export interface InteractionAnswer {
  /**
   * Waits for the acknowledgement; false when Discord refused it (a replay, or too late): nothing
   * more to do then. `log` is called only once it is settled (a child logger costs, and the
   * acknowledgements of a burst come first).
   */
  acknowledged(ack: Promise<unknown>, log: LazyLogger, started: number): Promise<boolean>;
  /**
   * Runs a request and shows its answer in the deferred reply; an unexpected failure still gets a
   * word (an apology with a reference). Resolves with the command layer's reply, when there was one.
   */
  answer(interaction: RepliableInteraction, request: Request, log: LazyLogger): Promise<Reply | undefined>;
  /** The command layer, after the acknowledgements in flight; requests with photos a few at a time. */
  handle(request: Request): Promise<Reply>;
  /**
   * A fast job may be delivered before "queued" was written over its status: then the delivery's
   * last word was overwritten, and is said again. (A redelivered event's status belongs to the first.)
   */
  reconcileStatus(jobId: string, conversation: Conversation, edit: StatusEdit): Promise<void>;
}

/** The person behind an interaction, as the command layer knows people. */
export const userOf = (interaction: Interaction) => ({ id: interaction.user.id, displayName: interaction.user.globalName ?? interaction.user.username });

/** Where an interaction's answers go; `privately` for memorial work and buttons on private results. */
export function conversationOf(interaction: Interaction, privately: boolean): Conversation {
  return {
    platform: 'discord',
    chatId: interaction.channelId ?? '',
    // The interaction id finds its follow-up token in Redis; the token itself is never stored here.
    threadId: interaction.id,
    userId: interaction.user.id,
    ...(privately ? { private: true } : {}),
  };
}

export function createInteractionAnswer(deps: InteractionAnswerDeps): InteractionAnswer {
  const { app, ackFirst, state } = deps;

  /** Keeps the follow-up token (and the upload limit) for the delivery, before the job exists: a fast job may finish before the reply. */
  async function rememberToken(interaction: RepliableInteraction): Promise<void> {
    await state.rememberInteraction(
      interaction.id,
      { applicationId: interaction.applicationId, token: interaction.token, attachmentSizeLimit: interaction.attachmentSizeLimit || 10 * 1024 * 1024 },
      interaction.createdTimestamp + TOKEN_KEEP_MS,
    );
  }

  const replyBody = (reply: Reply, owner: string) => {
    const body = messageBody(reply, { owner });
    return { content: body.content, components: body.components, allowedMentions: { parse: [] } };
  };

  const self: InteractionAnswer = {
    async acknowledged(ack, log, started) {
      try {
        await ack;
        if (log.isLevelEnabled('debug')) log().debug({ ackMs: Math.round(performance.now() - started) }, 'interaction acknowledged');
        return true;
      } catch (error) {
        if (isStaleInteraction(error)) log().info({ err: safeDiscordError(error) }, 'interaction already acknowledged or expired; ignored');
        else log().warn({ err: safeDiscordError(error) }, 'could not acknowledge an interaction');
        return false;
      }
    },

    async answer(interaction, request, log) {
      try {
        // Nothing after the acknowledgement may hold up other interactions' acknowledgements.
        await ackFirst.quiet();
        if (JOB_COMMANDS.has(request.command)) await rememberToken(interaction);
        const reply = await self.handle(request);
        await interaction.editReply(replyBody(reply, request.user.id));
        if (reply.job) {
          await self.reconcileStatus(reply.job.id, request.conversation, (body) => interaction.editReply(body));
        }
        return reply;
      } catch (error) {
        const ref = randomBytes(4).toString('hex');
        log().error({ err: safeDiscordError(error), ref }, 'discord interaction failed');
        await interaction.editReply({ content: apology(ref), components: [] }).catch(() => undefined);
        return undefined;
      }
    },

    async handle(request) {
      if (request.photos?.length) return ackFirst.heavy(() => app.commands.handle(request));
      await ackFirst.quiet();
      return app.commands.handle(request);
    },

    async reconcileStatus(jobId, conversation, edit) {
      const job = await getJob(app.database.db, jobId);
      if (!job || job.conversation?.threadId !== conversation.threadId || job.conversation?.statusMessageId !== conversation.statusMessageId) return;
      if (job.status === 'succeeded') await edit({ content: DONE_TEXT, components: [] });
      else if (job.status === 'failed' || job.status === 'cancelled') await edit({ content: failedReply(job).text, components: [] });
    },
  };
  return self;
}
