import { Routes, type Client, type GatewayMessageReactionAddDispatchData } from 'discord.js';
import type { App } from '../../app.js';
import { getJob } from '../../db/jobs.repository.js';
import { findResultsByMessage } from '../../db/results.repository.js';
import type { Conversation } from '../../db/schema.js';
import type { Logger } from '../../logger.js';
import type { CommandName } from '../core/request.js';
import { safeDiscordError } from './discord-errors.js';
import { messageBody, messageKey, reactionIntent } from './discord-translation.js';
import type { InteractionAnswer } from './interaction-answer.js';

/** A reaction may beat the recording of its message's id by a moment (see findResultsByMessage). */
const REACTION_LOOKUP = { retries: 10, delayMs: 300 };

/** Said on the bot's own status message when a reaction asks for work. */
const ONE_MOMENT_TEXT = '⏳ One moment…';

export interface ReactionHandlerDeps {
  app: Pick<App, 'database'>;
  /** The gateway client: its user id (the bot's own reactions are ignored) and its REST. */
  client: Client;
  answering: Pick<InteractionAnswer, 'handle' | 'reconcileStatus'>;
  logger: Logger;
}

/**
 * Handles a reaction on a result message, read from the raw gateway event: it carries every id
 * needed, and no cache has to know the channel or the message (they may predate a restart). Only
 * the requester's reactions count; everyone else's are ignored without a word. 1️⃣–4️⃣ (or ⭐ on a
 * one-image message) upscale, 🔄 and 👎 re-roll a portrait, ❌ deletes the message.
 */
export function createReactionHandler(deps: ReactionHandlerDeps): (data: GatewayMessageReactionAddDispatchData) => Promise<void> {
  const { app, client, answering, logger } = deps;

  async function postMessage(conversation: Conversation, content: string): Promise<string> {
    const sent = (await client.rest.post(Routes.channelMessages(conversation.chatId), {
      body: {
        content,
        allowed_mentions: { parse: [] },
        ...(conversation.messageId ? { message_reference: { message_id: conversation.messageId, fail_if_not_exists: false } } : {}),
      },
    })) as { id: string };
    return sent.id;
  }

  return async function onReaction(data: GatewayMessageReactionAddDispatchData): Promise<void> {
    if (data.user_id === client.user?.id || data.member?.user.bot) return;
    const intent = reactionIntent(data.emoji.id ? undefined : data.emoji.name);
    if (!intent) return;
    const results = await findResultsByMessage(app.database.db, messageKey(data.message_id), REACTION_LOOKUP);
    const first = results[0];
    if (!first) return;
    const job = await getJob(app.database.db, first.jobId);
    if (!job?.conversation || job.conversation.userId !== data.user_id) return;
    // Picks mean something on portraits (and a restored photo); re-rolls on portraits only; ❌ on anything we posted.
    if ((intent.kind === 'upscale' || intent.kind === 'upscale-only') && job.kind === 'upscale') return;
    if ((intent.kind === 'reroll' || intent.kind === 'notthem') && job.kind !== 'portrait') return;
    const log = logger.child({ messageId: data.message_id, reaction: intent.kind, jobId: job.id });

    if (intent.kind === 'delete') {
      await client.rest.delete(Routes.channelMessage(data.channel_id, data.message_id));
      log.info('result message deleted by its requester');
      return;
    }
    let command: CommandName;
    let target: string | undefined;
    if (intent.kind === 'upscale' || intent.kind === 'upscale-only') {
      const result = intent.kind === 'upscale' ? results.find((r) => r.variant === intent.variant) : results.length === 1 ? first : undefined;
      if (!result) return;
      command = 'upscale';
      target = result.id;
    } else {
      command = intent.kind;
      target = job.id;
    }

    const conversation: Conversation = {
      platform: 'discord',
      chatId: data.channel_id,
      messageId: data.message_id,
      userId: data.user_id,
      ...(job.conversation.private ? { private: true } : {}),
    };
    // A status message at once (a reaction has no interaction to defer); whoever delivers edits it.
    const status = await postMessage(conversation, ONE_MOMENT_TEXT).catch((error: unknown) => {
      log.warn({ err: safeDiscordError(error) }, 'could not post a status message');
      return undefined;
    });
    if (status) conversation.statusMessageId = status;
    const reply = await answering.handle({
      platform: 'discord',
      // A reaction has no event id; this one repeats only if the same person adds the same emoji again.
      eventId: `reaction:${data.message_id}:${data.user_id}:${data.emoji.name ?? ''}`,
      user: { id: data.user_id, displayName: data.member?.user.global_name ?? data.member?.user.username },
      conversation,
      command,
      target,
    });
    const body = messageBody(reply, { owner: data.user_id });
    if (!status) {
      await postMessage(conversation, reply.text);
      return;
    }
    const editStatus = (edit: { content: string; components: unknown[] }) => client.rest.patch(Routes.channelMessage(data.channel_id, status), { body: edit });
    await editStatus({ content: body.content, components: body.components });
    if (reply.job) await answering.reconcileStatus(reply.job.id, conversation, editStatus);
  };
}
