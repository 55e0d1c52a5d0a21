import { GrammyError, InputFile, InputMediaBuilder, type Api } from 'grammy';
import type { InlineKeyboardMarkup, Message } from 'grammy/types';
import type { Conversation, Job } from '../../db/schema.js';
import type { Logger } from '../../logger.js';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import type { Deliverer, SignedLinks } from '../core/deliverer.js';
import type { Reply, ReplyImage } from '../core/reply.js';
import { DONE_PRIVATELY_TEXT, DONE_TEXT, PROVENANCE_CAPTION, REACTION_HINT, workingText } from './status-text.js';
import { fitDocument, fitPhoto } from './telegram-media.js';
import type { TelegramState } from './telegram-state.js';
import { inlineKeyboardOf, messageKey } from './update-translation.js';

export type { SignedLinks } from '../core/deliverer.js';

export interface TelegramDelivererDeps {
  api: Api;
  store: Pick<ArtifactStore, 'get'>;
  state: Pick<TelegramState, 'deliverySteps' | 'recordDeliveryStep' | 'forgetDeliverySteps'>;
  /** A job's status and kind: the "sending a photo…" chat action runs while the job does. */
  jobInfo(jobId: string): Promise<Pick<Job, 'status' | 'kind'> | undefined>;
  /** The largest document Telegram takes from this bot: 50 MB, or a local Bot API server's limit. */
  documentLimit: number;
  links?: SignedLinks;
  logger: Logger;
  /** Telegram shows a chat action for 5 s; it is renewed this often while the job runs. */
  chatActionEveryMs?: number;
}

/** The longest a chat action is kept up for one job. */
const CHAT_ACTION_MAX_MS = 15 * 60 * 1000;
const MAX_CAPTION = 1024;
const MAX_TEXT = 4096;
const ALBUM_MAX = 10;

/** Telegram's chat id: numeric ids as numbers, `@channel` names as they are. */
export const chatIdOf = (conversation: Pick<Conversation, 'chatId'>): number | string =>
  /^-?\d+$/.test(conversation.chatId) ? Number(conversation.chatId) : conversation.chatId;

/** Where a message goes: the forum topic, and (unless `replying` is false) the request message it answers. */
export function placement(conversation: Conversation, replying = true) {
  const replyTo = replying ? conversation.messageId : undefined;
  return {
    ...(conversation.threadId ? { message_thread_id: Number(conversation.threadId) } : {}),
    ...(replyTo ? { reply_parameters: { message_id: Number(replyTo), allow_sending_without_reply: true } } : {}),
  };
}

/** The chat is closed to the bot for good (blocked, kicked, deleted, no rights): retrying cannot help. */
export function isChatGone(error: unknown): boolean {
  if (!(error instanceof GrammyError)) return false;
  if (error.error_code === 403) return true;
  return (
    error.error_code === 400 &&
    /chat not found|not enough rights|have no rights|need administrator rights|CHAT_WRITE_FORBIDDEN|CHAT_RESTRICTED|PEER_ID_INVALID|TOPIC_CLOSED|TOPIC_DELETED|user is deactivated/i.test(
      error.description,
    )
  );
}

const isNotModified = (error: unknown) => error instanceof GrammyError && error.error_code === 400 && /not modified/i.test(error.description);
const isMessageGone = (error: unknown) =>
  error instanceof GrammyError && error.error_code === 400 && /message to edit not found|MESSAGE_ID_INVALID|message can't be edited/i.test(error.description);

const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** Edits the status message; false when it is gone (deleted by the person) and a new message is needed. */
export async function editStatus(api: Api, conversation: Conversation, text: string, markup?: InlineKeyboardMarkup): Promise<boolean> {
  if (!conversation.statusMessageId) return false;
  try {
    await api.editMessageText(chatIdOf(conversation), Number(conversation.statusMessageId), clip(text, MAX_TEXT), {
      reply_markup: markup,
      link_preview_options: { is_disabled: true },
    });
    return true;
  } catch (error) {
    if (isNotModified(error)) return true;
    if (isMessageGone(error)) return false;
    throw error;
  }
}

/** Sends a text message in the conversation, replying to its request message. */
export function sendText(api: Api, conversation: Conversation, text: string, markup?: InlineKeyboardMarkup, replying = true): Promise<Message.TextMessage> {
  return api.sendMessage(chatIdOf(conversation), clip(text, MAX_TEXT), {
    ...placement(conversation, replying),
    reply_markup: markup,
    link_preview_options: { is_disabled: true },
  });
}

/**
 * The Telegram deliverer: progress edits the status message and shows "sending a photo…" while
 * the job runs; the outcome edits it once more and posts the results: portraits as one album
 * replying to the request, then a message with ⭐1–⭐4, 🔄 and 👎; the 8K file as a document with
 * the provenance caption (or a signed link when it cannot fit). Steps already done are recorded,
 * so a retried delivery resumes rather than posting an album twice. A chat that blocked the bot
 * ends the delivery quietly: nothing to retry.
 */
export function createTelegramDeliverer(deps: TelegramDelivererDeps): Deliverer & { close(): void } {
  const { api, logger } = deps;
  const tickers = new Map<string, NodeJS.Timeout>();

  const stopChatAction = (jobId: string) => {
    clearInterval(tickers.get(jobId));
    tickers.delete(jobId);
  };

  function startChatAction(conversation: Conversation, jobId: string, action: 'upload_photo' | 'upload_document') {
    stopChatAction(jobId);
    const send = () =>
      api
        .sendChatAction(chatIdOf(conversation), action, placement(conversation, false))
        .catch((error: unknown) => logger.debug({ err: error, jobId }, 'chat action not sent'));
    void send();
    const started = Date.now();
    const timer = setInterval(() => {
      if (Date.now() - started > CHAT_ACTION_MAX_MS) return stopChatAction(jobId);
      deps
        .jobInfo(jobId)
        .then((job) => (job?.status === 'running' && tickers.has(jobId) ? send() : stopChatAction(jobId)))
        .catch(() => stopChatAction(jobId));
    }, deps.chatActionEveryMs ?? 4_500);
    timer.unref();
    tickers.set(jobId, timer);
  }

  async function progress(conversation: Conversation, reply: Reply, jobId: string): Promise<void> {
    const job = await deps.jobInfo(jobId);
    startChatAction(conversation, jobId, job?.kind === 'upscale' ? 'upload_document' : 'upload_photo');
    await editStatus(api, conversation, workingText(reply.text)).catch((error: unknown) => {
      if (isChatGone(error)) throw error;
      logger.warn({ err: error, jobId }, 'could not update the status message'); // a courtesy: never fails the delivery
    });
  }

  /**
   * Posts each image once; returns the message id showing each (same order as `reply.images`).
   * Steps are recorded per destination chat, so a retry resumes where this one stopped.
   */
  async function postImages(conversation: Conversation, reply: Reply, jobId: string): Promise<(string | undefined)[]> {
    const images = reply.images ?? [];
    const prefix = `${conversation.chatId}:`;
    const recorded = await deps.state.deliverySteps(jobId);
    const done = Object.fromEntries(Object.entries(recorded).flatMap(([k, v]) => (k.startsWith(prefix) ? [[k.slice(prefix.length), v]] : [])));
    const record = (step: string, value: string) => deps.state.recordDeliveryStep(jobId, prefix + step, value);
    const shown: (string | undefined)[] = images.map(() => undefined);
    const keyboard = inlineKeyboardOf(reply.buttons, conversation.userId);
    const privateChat = conversation.chatId === conversation.userId || Number(conversation.chatId) > 0;
    const picks = reply.buttons?.some((row) => row.some((b) => b.command === 'upscale'));
    const withProvenance = (text: string) => `${text}\n\n${PROVENANCE_CAPTION}`;

    const photoIndexes = images.flatMap((image, i) => (image.as === 'photo' ? [i] : []));
    const documentIndexes = images.flatMap((image, i) => (image.as === 'document' ? [i] : []));
    // With one photo, the text and the buttons ride on it; with an album, the text rides on its first photo unless there are buttons.
    const textOnMedia = photoIndexes.length === 1 || (photoIndexes.length > 1 && !keyboard);

    if (photoIndexes.length > 0) {
      let ids: number[];
      if (done.media) ids = JSON.parse(done.media) as number[];
      else {
        const files = await Promise.all(photoIndexes.map(async (i) => asPhoto(images[i]!)));
        const caption = textOnMedia ? clip(withProvenance(reply.text), MAX_CAPTION) : undefined;
        if (files.length === 1) {
          const sent = await api.sendPhoto(chatIdOf(conversation), files[0]!, { ...placement(conversation), caption, reply_markup: keyboard });
          ids = [sent.message_id];
        } else {
          ids = [];
          for (let start = 0; start < files.length; start += ALBUM_MAX) {
            const media = files.slice(start, start + ALBUM_MAX).map((file, i) => InputMediaBuilder.photo(file, start + i === 0 && caption ? { caption } : {}));
            const sent = await api.sendMediaGroup(chatIdOf(conversation), media, placement(conversation));
            ids.push(...sent.map((m) => m.message_id));
          }
        }
        await record('media', JSON.stringify(ids));
      }
      photoIndexes.forEach((imageIndex, i) => (shown[imageIndex] = ids[i] === undefined ? undefined : messageKey(conversation.chatId, ids[i]!)));
    }

    for (const imageIndex of documentIndexes) {
      const step = `document-${imageIndex}`;
      let id = done[step];
      if (!id) {
        id = String(await postDocument(conversation, images[imageIndex]!, withProvenance(reply.text)));
        await record(step, id);
      }
      shown[imageIndex] = messageKey(conversation.chatId, id);
    }

    if (photoIndexes.length > 1 && keyboard && !done.text) {
      const lines = [reply.text, ...(picks && privateChat ? [REACTION_HINT] : []), '', PROVENANCE_CAPTION];
      // It follows the album, which already answers the request.
      const sent = await sendText(api, conversation, lines.join('\n'), keyboard, false);
      await record('text', String(sent.message_id));
    }
    return shown;
  }

  async function asPhoto(image: ReplyImage): Promise<InputFile> {
    const bytes = await deps.store.get(image.artifactKey);
    const fitted = await fitPhoto(bytes);
    if (!fitted) throw new Error(`result ${image.artifactKey} cannot be made to fit Telegram's photo limits`);
    return new InputFile(fitted, image.filename);
  }

  /** The 8K file as a document within Telegram's limit; a signed link, or a clear word, when it cannot fit. */
  async function postDocument(conversation: Conversation, image: ReplyImage, caption: string): Promise<number> {
    const bytes = await deps.store.get(image.artifactKey);
    const fitted = await fitDocument(bytes, deps.documentLimit);
    if (fitted) {
      const sent = await api.sendDocument(chatIdOf(conversation), new InputFile(fitted, image.filename), {
        ...placement(conversation),
        caption: clip(caption, MAX_CAPTION),
      });
      return sent.message_id;
    }
    const megabytes = Math.ceil(bytes.byteLength / 1024 / 1024);
    const url = await deps.links?.urlFor(image.artifactKey, image.filename);
    const text = url
      ? `${caption}\n\nThe file is ${megabytes} MB, more than Telegram lets a bot send. Download it here (the link expires): ${url}`
      : `The file is ${megabytes} MB, more than Telegram lets a bot send, and no download link can be made here. Please ask the operator.`;
    logger.warn({ artifactKey: image.artifactKey, bytes: bytes.byteLength, link: Boolean(url) }, 'result too large for Telegram');
    return (await sendText(api, conversation, text)).message_id;
  }

  async function final(conversation: Conversation, reply: Reply, jobId: string): Promise<(string | undefined)[]> {
    stopChatAction(jobId);
    if (!reply.images?.length) {
      // The outcome without pictures (a failure, and its refund) replaces the status, or is sent when that is gone.
      const markup = inlineKeyboardOf(reply.buttons, conversation.userId);
      if (!(await editStatus(api, conversation, reply.text, markup))) await sendText(api, conversation, reply.text, markup);
      return [];
    }
    // Uploading an album or an 8K file takes a moment: say so while it happens.
    const action = reply.images.some((image) => image.as === 'document') ? 'upload_document' : 'upload_photo';
    void api.sendChatAction(chatIdOf(conversation), action, placement(conversation, false)).catch(() => undefined);
    const privately = await postPrivately(conversation, reply, jobId);
    const shown = privately ?? (await postImages(conversation, reply, jobId));
    await editStatus(api, conversation, privately ? DONE_PRIVATELY_TEXT : DONE_TEXT).catch((error: unknown) =>
      logger.warn({ err: error, jobId }, 'could not update the status message'),
    );
    return shown;
  }

  /**
   * Results meant for the requester only (a memorial) asked for in a group go to their private chat
   * with the bot. Telegram lets a bot write there only once the person has started it; when it
   * cannot, undefined: the results go to the group after all.
   */
  async function postPrivately(conversation: Conversation, reply: Reply, jobId: string): Promise<(string | undefined)[] | undefined> {
    if (!reply.ephemeral || !conversation.userId || conversation.chatId === conversation.userId) return undefined;
    try {
      return await postImages({ platform: conversation.platform, chatId: conversation.userId, userId: conversation.userId }, reply, jobId);
    } catch (error) {
      if (!isChatGone(error)) throw error;
      logger.info({ jobId }, 'private results could not be sent privately (the person has not started the bot); sending them to the chat');
      return undefined;
    }
  }

  return {
    settled: (jobId) => deps.state.forgetDeliverySteps(jobId),
    async deliver(conversation, reply, kind, jobId) {
      try {
        if (kind === 'progress') {
          await progress(conversation, reply, jobId);
          return { imageMessageIds: [] };
        }
        return { imageMessageIds: await final(conversation, reply, jobId) };
      } catch (error) {
        if (!isChatGone(error)) throw error;
        // Blocked or removed: the delivery ends here, with no retries that cannot succeed.
        stopChatAction(jobId);
        logger.info({ jobId, chatId: conversation.chatId, description: (error as GrammyError).description }, 'chat closed to the bot; delivery dropped');
        return { imageMessageIds: [] };
      }
    },
    close() {
      for (const jobId of [...tickers.keys()]) stopChatAction(jobId);
    },
  };
}
