import { randomBytes } from 'node:crypto';
import type { Interaction, RepliableInteraction } from 'discord.js';
import type { LazyLogger } from '../../lazy-child-logger.js';
import { catalogEntry } from '../core/command-catalog.js';
import type { IntakeGate } from '../core/intake-gate.js';
import { apology } from '../core/messages.js';
import type { Conversation } from '../core/model.js';
import type { Reply } from '../core/reply.js';
import type { RequestLife } from '../core/request-life.js';
import type { Request } from '../core/request.js';
import { isStaleInteraction, safeDiscordError } from './discord-errors.js';
import type { DiscordState } from './discord-state.js';
import { messageBody } from './discord-translation.js';

/** An interaction token works for 15 minutes; it is kept a minute less, so a delivery never races its end. */
export const TOKEN_KEEP_MS = 14 * 60 * 1000;

export interface InteractionAnswerDeps {
  life: RequestLife;
  gate: IntakeGate;
  state: Pick<DiscordState, 'rememberInteraction'>;
}

/** The flow every acknowledged interaction shares: the acknowledgement, then the request's life with the deferred reply as its view. */
export interface InteractionAnswer {
  /**
   * Waits for the acknowledgement; false when Discord refused it (a replay, or too late): nothing
   * more to do then. `log` is called only once it is settled (a child logger costs, and the
   * acknowledgements of a burst come first).
   */
  acknowledged(ack: Promise<unknown>, log: LazyLogger, started: number): Promise<boolean>;
  /**
   * Runs a request, its answers shown by editing the deferred reply; an unexpected failure still
   * gets a word (an apology with a reference). Resolves with the command layer's reply, when there was one.
   */
  answer(interaction: RepliableInteraction, request: Request, log: LazyLogger): Promise<Reply | undefined>;
}

/** The person behind an interaction, as the command layer knows people. */
export const userOf = (interaction: Interaction) => ({ id: interaction.user.id, displayName: interaction.user.globalName ?? interaction.user.username });

/** Where an interaction's answers go; `privately` for memorial work and buttons on private results. */
export function conversationOf(interaction: Interaction, privately: boolean): Conversation {
  return {
    platform: 'discord',
    chatId: interaction.channelId ?? '',
    // The interaction id finds its follow-up token in Redis; the token itself is never stored here.
    interactionId: interaction.id,
    userId: interaction.user.id,
    ...(privately ? { private: true } : {}),
  };
}

export function createInteractionAnswer(deps: InteractionAnswerDeps): InteractionAnswer {
  const { life, gate, state } = deps;

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

  return {
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
        // "I agree" may resume a held photo request: its results follow up on this press.
        if (catalogEntry(request.command).queuesWork || request.command === 'consent') {
          // Nothing after the acknowledgement may hold up other interactions' acknowledgements.
          await gate.quiet();
          await rememberToken(interaction);
        }
        return await life.submit(request, (reply) => interaction.editReply(replyBody(reply, request.user.id)));
      } catch (error) {
        const ref = randomBytes(4).toString('hex');
        log().error({ err: safeDiscordError(error), ref }, 'discord interaction failed');
        await interaction.editReply({ content: apology(ref), components: [] }).catch(() => undefined);
        return undefined;
      }
    },
  };
}
