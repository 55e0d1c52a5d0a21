import { createHash } from 'node:crypto';
import { Routes, type APIMessage, type RawFile, type REST } from 'discord.js';
import { PLATFORM_RULES } from '../../images/index.js';
import type { Logger } from '../../logger.js';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import { UndeliverableError, type ChatPort, type SignedLinks } from '../core/deliverer.js';
import type { Conversation } from '../core/model.js';
import { info, type Reply, type ReplyImage } from '../core/reply.js';
import { PROVENANCE_LINE } from '../core/status-text.js';
import { fitForUpload } from '../core/upload-fit.js';
import { discordPhotoSource, type AttachmentPolicy } from './attachments.js';
import { isClosedToBot, isMessageGone, isTokenExpired, safeDiscordError } from './discord-errors.js';
import type { DiscordState, InteractionFacts } from './discord-state.js';
import { mentioning, messageBody, messageKey, pickReactionsFor, reactionRouteEmoji, type MessageBody } from './discord-translation.js';

export interface DiscordChatDeps {
  /** REST with the bot token; interaction webhooks are called without it. */
  rest: REST;
  store: Pick<ArtifactStore, 'get'>;
  state: Pick<DiscordState, 'interaction' | 'deliverySteps' | 'recordDeliveryStep' | 'forgetDeliverySteps'>;
  /** Where held photos are read from again. */
  policy: AttachmentPolicy;
  links?: SignedLinks;
  logger: Logger;
}

/** Beside every file: what the file's own metadata also says (small print). */
export const CREDIT_LINE = `-# ${PROVENANCE_LINE}`;

/** Room left under the upload limit for the rest of the request (JSON payload, multipart framing). */
const UPLOAD_OVERHEAD = 256 * 1024;
/** What Discord takes from a bot in a DM (no server boosts apply there). */
const DM_UPLOAD_LIMIT = PLATFORM_RULES.discordAttachment.maxBytes;

/** Where a message goes: the interaction's follow-up webhook, the channel as the bot, or a DM. */
type Destination = { kind: 'webhook'; applicationId: string; token: string; ephemeral: boolean } | { kind: 'channel'; channelId: string } | { kind: 'dm' };

interface Posted {
  channelId: string;
  messageId: string;
  ephemeral: boolean;
  /** It went to the requester's DMs, not the conversation. */
  direct: boolean;
}

interface PreparedFiles {
  files: RawFile[];
  /** Said instead of a file that could not be made to fit. */
  notes: string[];
}

/** A nonce Discord uses to drop a repeated channel message (`enforce_nonce`): the same job step gives the same nonce. */
const nonceOf = (jobId: string, step: string) => createHash('sha256').update(`${jobId}:${step}`).digest('base64url').slice(0, 25);

/**
 * Discord as the command layer reaches it. Within the interaction's 15 minutes it answers through the interaction
 * (status edits on the deferred reply, results as a follow-up: ephemeral for private jobs);
 * later, or once Discord says the token is spent, it posts as the bot in the channel, mentioning
 * the requester, and in a DM when the channel is closed to it (private jobs only ever go by DM).
 * Uploads fit the interaction's `attachment_size_limit` (10 MiB elsewhere): files that are too
 * large are re-encoded to fit, and when nothing fits a download link (or a clear word) is sent.
 * Steps already done are recorded, so a retried delivery resumes instead of posting twice; 429s
 * are waited out by discord.js's REST client. Errors thrown carry no token.
 */
export function createDiscordChat(deps: DiscordChatDeps): ChatPort {
  const { rest, logger } = deps;

  async function facts(conversation: Conversation): Promise<InteractionFacts | undefined> {
    return conversation.interactionId ? deps.state.interaction(conversation.interactionId) : undefined;
  }

  async function send(destination: Destination, conversation: Conversation, body: MessageBody, files: RawFile[], nonce: string): Promise<Posted> {
    if (destination.kind === 'webhook') {
      const message = (await rest.post(Routes.webhook(destination.applicationId, destination.token), {
        body: destination.ephemeral ? { ...body, flags: (body.flags ?? 0) | 64 } : body,
        files,
        auth: false,
        query: new URLSearchParams({ wait: 'true' }),
      })) as APIMessage;
      return { channelId: message.channel_id, messageId: message.id, ephemeral: destination.ephemeral, direct: false };
    }
    let channelId = destination.kind === 'channel' ? destination.channelId : undefined;
    if (!channelId) {
      if (!conversation.userId) throw Object.assign(new Error('no user to send a DM to'), { status: 403 });
      const dm = (await rest.post(Routes.userChannels(), { body: { recipient_id: conversation.userId } })) as { id: string };
      channelId = dm.id;
    }
    const mention = destination.kind === 'channel' ? conversation.userId : undefined;
    const replyTo = destination.kind === 'channel' && conversation.messageId ? { message_reference: { message_id: conversation.messageId, fail_if_not_exists: false } } : {};
    const message = (await rest.post(Routes.channelMessages(channelId), {
      body: { ...mentioning(body, mention), ...replyTo, nonce, enforce_nonce: true },
      files,
    })) as APIMessage;
    return { channelId: message.channel_id, messageId: message.id, ephemeral: false, direct: destination.kind === 'dm' };
  }

  /** The destinations to try, in order. */
  function destinations(conversation: Conversation, interaction: InteractionFacts | undefined): Destination[] {
    const list: Destination[] = [];
    if (interaction?.token) list.push({ kind: 'webhook', applicationId: interaction.applicationId, token: interaction.token, ephemeral: conversation.private === true });
    if (!conversation.private && conversation.chatId) list.push({ kind: 'channel', channelId: conversation.chatId });
    if (conversation.userId) list.push({ kind: 'dm' });
    return list;
  }

  /** Posts a message (once per job step), falling back webhook → channel → DM; undefined when every way is closed. */
  async function post(
    conversation: Conversation,
    interaction: InteractionFacts | undefined,
    jobId: string,
    step: string,
    build: (uploadLimit: number) => Promise<{ body: MessageBody; files: RawFile[] }>,
  ): Promise<Posted | undefined> {
    const done = (await deps.state.deliverySteps(jobId))[step];
    if (done) {
      const [channelId, messageId, how] = done.split(':');
      return { channelId: channelId!, messageId: messageId!, ephemeral: how === 'e', direct: how === 'd' };
    }
    for (const destination of destinations(conversation, interaction)) {
      const limit = destination.kind === 'dm' ? Math.min(DM_UPLOAD_LIMIT, interaction?.attachmentSizeLimit ?? DM_UPLOAD_LIMIT) : (interaction?.attachmentSizeLimit ?? PLATFORM_RULES.discordAttachment.maxBytes);
      const { body, files } = await build(limit);
      try {
        const posted = await send(destination, conversation, body, files, nonceOf(jobId, step));
        await deps.state.recordDeliveryStep(jobId, step, `${posted.channelId}:${posted.messageId}:${posted.ephemeral ? 'e' : posted.direct ? 'd' : 'p'}`);
        logger.info({ jobId, step, destination: destination.kind, files: files.length, bytes: files.reduce((n, f) => n + byteLength(f.data), 0) }, 'discord message posted');
        return posted;
      } catch (error) {
        if (destination.kind === 'webhook' && isTokenExpired(error)) {
          logger.info({ jobId, step }, 'interaction token spent; posting as the bot instead');
          continue;
        }
        if (destination.kind !== 'webhook' && isClosedToBot(error)) {
          logger.info({ jobId, step, destination: destination.kind, err: safeDiscordError(error) }, 'closed to the bot; trying the next way');
          continue;
        }
        throw safeDiscordError(error);
      }
    }
    logger.info({ jobId, step }, 'no way left to reach the requester; delivery dropped');
    return undefined;
  }

  /** Fetches each image and fits it under its share of `limit`: re-encoded when needed, a link (or a word) when nothing fits. */
  async function prepareFiles(images: readonly ReplyImage[], limit: number): Promise<PreparedFiles> {
    const budget = Math.max(64 * 1024, Math.floor((limit - UPLOAD_OVERHEAD) / Math.max(1, images.length)));
    const prepared: PreparedFiles = { files: [], notes: [] };
    for (const image of images) {
      const fitted = await fitForUpload(deps, image, { maxBytes: budget }, 'Discord');
      if ('bytes' in fitted) prepared.files.push({ name: image.filename, data: fitted.bytes, contentType: 'image/jpeg' });
      else prepared.notes.push(fitted.note);
    }
    return prepared;
  }

  /** Edits the status message (the deferred reply, or the bot's own status message); false when there is none or it is gone. */
  async function editStatus(conversation: Conversation, interaction: InteractionFacts | undefined, body: Partial<MessageBody>): Promise<boolean> {
    if (interaction?.token) {
      try {
        await rest.patch(Routes.webhookMessage(interaction.applicationId, interaction.token, '@original'), { body, auth: false });
        return true;
      } catch (error) {
        if (!isTokenExpired(error) && !isMessageGone(error)) throw safeDiscordError(error);
      }
    }
    if (conversation.statusMessageId) {
      try {
        await rest.patch(Routes.channelMessage(conversation.chatId, conversation.statusMessageId), { body });
        return true;
      } catch (error) {
        if (!isMessageGone(error) && !isClosedToBot(error)) throw safeDiscordError(error);
      }
    }
    return false;
  }

  /** A courtesy: a status that cannot be updated never fails a delivery. */
  const courtesy = (jobId: string, what: string) => (error: unknown) => {
    logger.warn({ jobId, err: safeDiscordError(error) }, `could not ${what}`);
    return false;
  };

  async function addReactions(posted: Posted, reply: Reply, jobId: string): Promise<void> {
    if (posted.ephemeral) return; // nobody can react to an ephemeral message
    const steps = await deps.state.deliverySteps(jobId);
    if (steps.reactions) return;
    for (const emoji of pickReactionsFor(reply)) {
      await rest.put(Routes.channelMessageOwnReaction(posted.channelId, posted.messageId, reactionRouteEmoji(emoji)));
    }
    await deps.state.recordDeliveryStep(jobId, 'reactions', '1');
  }

  /** A message posted as the bot in the conversation's channel, answering its request. */
  async function postInChannel(conversation: Conversation, reply: Reply): Promise<string> {
    const body = messageBody(reply, { owner: conversation.userId });
    const replyTo = conversation.messageId ? { message_reference: { message_id: conversation.messageId, fail_if_not_exists: false } } : {};
    const sent = (await rest.post(Routes.channelMessages(conversation.chatId), { body: { ...body, ...replyTo } })) as { id: string };
    return sent.id;
  }

  const noWayLeft = () => new UndeliverableError('discord: every way to the requester is closed (follow-up, channel, DM)');

  return {
    platform: 'discord',
    status: {
      async post(conversation, reply, context) {
        if (context.stage === 'answer' || !context.jobId) return postInChannel(conversation, reply);
        // An outcome without pictures whose status is gone: posted once, by whatever way is left.
        const body = messageBody(reply, { owner: conversation.userId });
        const posted = await post(conversation, await facts(conversation), context.jobId, 'message', async () => ({ body, files: [] }));
        if (!posted) throw noWayLeft();
        return posted.messageId;
      },
      async edit(conversation, reply, context) {
        const body = messageBody(reply, { owner: conversation.userId });
        // A status is a courtesy until the outcome: a progress edit the platform refuses changes nothing.
        return editStatus(conversation, await facts(conversation), { content: body.content, components: body.components }).catch((error: unknown) => {
          if (context.stage === 'outcome') throw error;
          return courtesy(context.jobId ?? '', 'update the status message')(error);
        });
      },
    },
    async postResults(conversation, reply, jobId, shown) {
      const interaction = await facts(conversation);
      const images = reply.images ?? [];
      const memo = new Map<number, Promise<PreparedFiles>>();
      const filesFor = (limit: number) => {
        if (!memo.has(limit)) memo.set(limit, prepareFiles(images, limit));
        return memo.get(limit)!;
      };
      const posted = await post(conversation, interaction, jobId, 'message', async (limit) => {
        const { files, notes } = await filesFor(limit);
        return { body: messageBody(reply, { owner: conversation.userId, footer: [...notes, CREDIT_LINE] }), files };
      });
      if (!posted) throw noWayLeft();
      for (const index of images.keys()) await shown(index, messageKey(posted.messageId));
      await addReactions(posted, reply, jobId).catch(courtesy(jobId, 'add the pick reactions'));
      return { privately: posted.direct };
    },
    async tellPrivately(conversation, text) {
      if (!conversation.userId) return false;
      // Keyed by the request, so a retried word is not said twice.
      const nonce = nonceOf(conversation.interactionId ?? conversation.messageId ?? conversation.chatId, 'told-privately');
      return send({ kind: 'dm' }, conversation, messageBody(info(text)), [], nonce).then(
        () => true,
        () => false,
      );
    },
    async deleteMessage(chatId, messageId) {
      await rest.delete(Routes.channelMessage(chatId, messageId));
    },
    photoSource: (ref, label) => discordPhotoSource({ url: String(ref.url), size: typeof ref.size === 'number' ? ref.size : undefined, name: String(ref.name ?? '') }, label, deps.policy),
    settled: (jobId) => deps.state.forgetDeliverySteps(jobId),
  };
}

const byteLength = (data: RawFile['data']): number => (typeof data === 'object' ? data.byteLength : String(data).length);
