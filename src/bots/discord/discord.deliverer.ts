import { createHash } from 'node:crypto';
import { Routes, type APIMessage, type RawFile, type REST } from 'discord.js';
import type { Conversation } from '../../db/schema.js';
import { encodeToFit, LIKENESS_CREDIT, PLATFORM_RULES } from '../../images/index.js';
import type { Logger } from '../../logger.js';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import type { Deliverer, SignedLinks } from '../core/deliverer.js';
import type { Reply, ReplyImage } from '../core/reply.js';
import { isClosedToBot, isMessageGone, isTokenExpired, safeDiscordError } from './discord-errors.js';
import type { DiscordState, InteractionFacts } from './discord-state.js';
import { mentioning, messageBody, messageKey, pickReactionsFor, reactionRouteEmoji, type MessageBody } from './discord-translation.js';

export type { SignedLinks } from '../core/deliverer.js';

export interface DiscordDelivererDeps {
  /** REST with the bot token; interaction webhooks are called without it. */
  rest: REST;
  store: Pick<ArtifactStore, 'get'>;
  state: Pick<DiscordState, 'interaction' | 'deliverySteps' | 'recordDeliveryStep' | 'forgetDeliverySteps'>;
  links?: SignedLinks;
  logger: Logger;
}

/** What every status message says once the results are posted. */
export const DONE_TEXT = '✅ Done — the results are below.';
/** Beside every file: what the file's own metadata also says. */
export const CREDIT_LINE = `-# 🤖 ${LIKENESS_CREDIT}. The file's metadata says so too.`;

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
}

interface PreparedFiles {
  files: RawFile[];
  /** Said instead of a file that could not be made to fit. */
  notes: string[];
}

/** A nonce Discord uses to drop a repeated channel message (`enforce_nonce`): the same job step gives the same nonce. */
const nonceOf = (jobId: string, step: string) => createHash('sha256').update(`${jobId}:${step}`).digest('base64url').slice(0, 25);

const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/**
 * The Discord deliverer. Within the interaction's 15 minutes it answers through the interaction
 * (status edits on the deferred reply, results as a follow-up: ephemeral for private jobs);
 * later, or once Discord says the token is spent, it posts as the bot in the channel, mentioning
 * the requester, and in a DM when the channel is closed to it (private jobs only ever go by DM).
 * Uploads fit the interaction's `attachment_size_limit` (10 MiB elsewhere): files that are too
 * large are re-encoded to fit, and when nothing fits a download link (or a clear word) is sent.
 * Steps already done are recorded, so a retried delivery resumes instead of posting twice; 429s
 * are waited out by discord.js's REST client. Errors thrown carry no token.
 */
export function createDiscordDeliverer(deps: DiscordDelivererDeps): Deliverer {
  const { rest, logger } = deps;

  async function facts(conversation: Conversation): Promise<InteractionFacts | undefined> {
    return conversation.threadId ? deps.state.interaction(conversation.threadId) : undefined;
  }

  async function send(destination: Destination, conversation: Conversation, body: MessageBody, files: RawFile[], nonce: string): Promise<Posted> {
    if (destination.kind === 'webhook') {
      const message = (await rest.post(Routes.webhook(destination.applicationId, destination.token), {
        body: destination.ephemeral ? { ...body, flags: (body.flags ?? 0) | 64 } : body,
        files,
        auth: false,
        query: new URLSearchParams({ wait: 'true' }),
      })) as APIMessage;
      return { channelId: message.channel_id, messageId: message.id, ephemeral: destination.ephemeral };
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
    return { channelId: message.channel_id, messageId: message.id, ephemeral: false };
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
      const [channelId, messageId, ephemeral] = done.split(':');
      return { channelId: channelId!, messageId: messageId!, ephemeral: ephemeral === 'e' };
    }
    for (const destination of destinations(conversation, interaction)) {
      const limit = destination.kind === 'dm' ? Math.min(DM_UPLOAD_LIMIT, interaction?.attachmentSizeLimit ?? DM_UPLOAD_LIMIT) : (interaction?.attachmentSizeLimit ?? PLATFORM_RULES.discordAttachment.maxBytes);
      const { body, files } = await build(limit);
      try {
        const posted = await send(destination, conversation, body, files, nonceOf(jobId, step));
        await deps.state.recordDeliveryStep(jobId, step, `${posted.channelId}:${posted.messageId}:${posted.ephemeral ? 'e' : 'p'}`);
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
      const bytes = await deps.store.get(image.artifactKey);
      if (bytes.byteLength <= budget) {
        prepared.files.push({ name: image.filename, data: bytes, contentType: 'image/jpeg' });
        continue;
      }
      const fitted = await encodeToFit(bytes, { maxBytes: budget });
      if (!fitted.tooLarge) {
        logger.debug({ artifactKey: image.artifactKey, from: bytes.byteLength, to: fitted.bytes.byteLength, quality: fitted.quality }, 'encoded to fit the upload limit');
        prepared.files.push({ name: image.filename, data: fitted.bytes, contentType: 'image/jpeg' });
        continue;
      }
      const url = await deps.links?.urlFor(image.artifactKey, image.filename);
      logger.warn({ artifactKey: image.artifactKey, bytes: bytes.byteLength, limit, link: Boolean(url) }, 'result too large for a Discord upload');
      prepared.notes.push(
        url
          ? `The full file is ${megabytes(bytes.byteLength)}, more than Discord takes here. Download it (the link expires): ${url}`
          : `The full file is ${megabytes(bytes.byteLength)}, more than Discord takes here, and no download link can be made on this server. Please ask the operator.`,
      );
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

  async function final(conversation: Conversation, reply: Reply, jobId: string): Promise<(string | undefined)[]> {
    const interaction = await facts(conversation);
    const images = reply.images ?? [];
    if (images.length === 0) {
      // An outcome without pictures (a failure and its refund) replaces the status where it can.
      const body = messageBody(reply, { owner: conversation.userId });
      if (await editStatus(conversation, interaction, { content: body.content, components: body.components })) return [];
      await post(conversation, interaction, jobId, 'message', async () => ({ body, files: [] }));
      return [];
    }
    const memo = new Map<number, Promise<PreparedFiles>>();
    const filesFor = (limit: number) => {
      if (!memo.has(limit)) memo.set(limit, prepareFiles(images, limit));
      return memo.get(limit)!;
    };
    const posted = await post(conversation, interaction, jobId, 'message', async (limit) => {
      const { files, notes } = await filesFor(limit);
      return { body: messageBody(reply, { owner: conversation.userId, footer: [...notes, CREDIT_LINE] }), files };
    });
    if (!posted) return images.map(() => undefined);
    await addReactions(posted, reply, jobId).catch(courtesy(jobId, 'add the pick reactions'));
    await editStatus(conversation, interaction, { content: DONE_TEXT, components: [] }).catch(courtesy(jobId, 'update the status message'));
    return images.map(() => messageKey(posted.messageId));
  }

  return {
    settled: (jobId) => deps.state.forgetDeliverySteps(jobId),
    async deliver(conversation, reply, kind, jobId) {
      if (kind === 'progress') {
        const interaction = await facts(conversation);
        await editStatus(conversation, interaction, { content: `⏳ ${reply.text}` }).catch(courtesy(jobId, 'update the status message'));
        return { imageMessageIds: [] };
      }
      return { imageMessageIds: await final(conversation, reply, jobId) };
    },
  };
}

const byteLength = (data: RawFile['data']): number => (typeof data === 'object' ? data.byteLength : String(data).length);
