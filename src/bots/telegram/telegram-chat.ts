import { GrammyError, InputFile, InputMediaBuilder, type Api } from 'grammy';
import type { InlineKeyboardMarkup, Message } from 'grammy/types';
import { PLATFORM_RULES } from '../../images/index.js';
import type { Logger } from '../../logger.js';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import { UndeliverableError, type ChatPort, type SignedLinks } from '../core/deliverer.js';
import type { DeliverySteps } from '../core/delivery-steps.js';
import type { Conversation, Job } from '../core/model.js';
import type { Reply, ReplyImage } from '../core/reply.js';
import { PROVENANCE_LINE } from '../core/status-text.js';
import { fitForUpload } from '../core/upload-fit.js';
import { telegramPhotoSource, type TelegramFileDeps } from './telegram-files.js';
import { inlineKeyboardOf, messageKey, REACTION_HINT, type FileRef } from './update-translation.js';

export interface TelegramChatDeps {
  api: Api;
  store: Pick<ArtifactStore, 'get'>;
  steps: DeliverySteps;
  files: TelegramFileDeps;
  /** A job's status: "sending a photo…" is renewed while the job runs. */
  jobStatus(jobId: string): Promise<Pick<Job, 'status'> | undefined>;
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
    ...(conversation.topicId ? { message_thread_id: Number(conversation.topicId) } : {}),
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

/** A closed chat as the core's UndeliverableError; anything else unchanged. */
async function closedAsUndeliverable<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (isChatGone(error)) throw new UndeliverableError(`telegram: ${(error as GrammyError).description}`, { cause: error });
    throw error;
  }
}

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
 * Telegram as the command layer reaches it. The status is a message of the bot's, edited as the
 * job moves, with "sending a photo…" shown while it runs. Results: portraits as one album replying
 * to the request, then a message with ⭐1–⭐4, 🔄 and 👎; the 8K file as a document with the
 * provenance line (or a signed link when it cannot fit); private results (a memorial asked for in
 * a group) in the person's private chat when Telegram lets the bot write there. Steps already done
 * are recorded, so a retried delivery resumes rather than posting an album twice.
 */
export function createTelegramChat(deps: TelegramChatDeps): ChatPort & { close(): void } {
  const { api, logger } = deps;
  const tickers = new Map<string, NodeJS.Timeout>();

  const stopChatAction = (jobId: string | undefined) => {
    if (!jobId) return;
    clearInterval(tickers.get(jobId));
    tickers.delete(jobId);
  };

  function startChatAction(conversation: Conversation, jobId: string, action: 'upload_photo' | 'upload_document') {
    stopChatAction(jobId);
    const send = () =>
      api.sendChatAction(chatIdOf(conversation), action, placement(conversation, false)).catch((error: unknown) => logger.debug({ err: error, jobId }, 'chat action not sent'));
    void send();
    const started = Date.now();
    const timer = setInterval(() => {
      if (Date.now() - started > CHAT_ACTION_MAX_MS) return stopChatAction(jobId);
      deps
        .jobStatus(jobId)
        .then((job) => (job?.status === 'running' && tickers.has(jobId) ? send() : stopChatAction(jobId)))
        .catch(() => stopChatAction(jobId));
    }, deps.chatActionEveryMs ?? 4_500);
    timer.unref();
    tickers.set(jobId, timer);
  }

  /** Posts each image once, reporting each message as it goes out; steps are recorded per destination chat, so a retry resumes. */
  async function postImages(conversation: Conversation, reply: Reply, jobId: string, shown: (index: number, key: string) => Promise<void>): Promise<void> {
    const images = reply.images ?? [];
    const prefix = `${conversation.chatId}:`;
    const recorded = await deps.steps.deliverySteps(jobId);
    const done = Object.fromEntries(Object.entries(recorded).flatMap(([k, v]) => (k.startsWith(prefix) ? [[k.slice(prefix.length), v]] : [])));
    const record = (step: string, value: string) => deps.steps.recordDeliveryStep(jobId, prefix + step, value);
    const keyboard = inlineKeyboardOf(reply.buttons, conversation.userId);
    const privateChat = conversation.chatId === conversation.userId || Number(conversation.chatId) > 0;
    const picks = reply.buttons?.some((row) => row.some((b) => b.command === 'upscale'));
    const withProvenance = (text: string) => `${text}\n\n${PROVENANCE_LINE}`;

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
      for (const [i, imageIndex] of photoIndexes.entries()) if (ids[i] !== undefined) await shown(imageIndex, messageKey(conversation.chatId, ids[i]));
    }

    for (const imageIndex of documentIndexes) {
      const step = `document-${imageIndex}`;
      let id = done[step];
      if (!id) {
        id = String(await postDocument(conversation, images[imageIndex]!, withProvenance(reply.text)));
        await record(step, id);
      }
      await shown(imageIndex, messageKey(conversation.chatId, id));
    }

    if (photoIndexes.length > 1 && keyboard && !done.text) {
      const lines = [reply.text, ...(picks && privateChat ? [REACTION_HINT] : []), '', PROVENANCE_LINE];
      // It follows the album, which already answers the request.
      const sent = await sendText(api, conversation, lines.join('\n'), keyboard, false);
      await record('text', String(sent.message_id));
    }
  }

  /** A photo within Telegram's photo limits (10 MB, width + height ≤ 10000): portraits at 2048 px always fit. */
  async function asPhoto(image: ReplyImage): Promise<InputFile> {
    const fitted = await fitForUpload(deps, image, PLATFORM_RULES.telegramPhoto, 'Telegram');
    if (!('bytes' in fitted)) throw new Error(`result ${image.artifactKey} cannot be made to fit Telegram's photo limits`);
    return new InputFile(fitted.bytes, image.filename);
  }

  /** The 8K file as a document within Telegram's limit; a signed link, or a clear word, when it cannot fit. */
  async function postDocument(conversation: Conversation, image: ReplyImage, caption: string): Promise<number> {
    const fitted = await fitForUpload(deps, image, { maxBytes: deps.documentLimit }, 'Telegram');
    if ('note' in fitted) return (await sendText(api, conversation, `${caption}\n\n${fitted.note}`)).message_id;
    const sent = await api.sendDocument(chatIdOf(conversation), new InputFile(fitted.bytes, image.filename), { ...placement(conversation), caption: clip(caption, MAX_CAPTION) });
    return sent.message_id;
  }

  /** The requester's private chat with the bot, when the conversation is a group. */
  const privateChatOf = (conversation: Conversation): Conversation | undefined =>
    conversation.userId && conversation.chatId !== conversation.userId ? { platform: conversation.platform, chatId: conversation.userId, userId: conversation.userId } : undefined;

  return {
    platform: 'telegram',
    status: {
      async post(conversation, reply, context) {
        if (context.stage === 'outcome') stopChatAction(context.jobId);
        const sent = await closedAsUndeliverable(sendText(api, conversation, reply.text, inlineKeyboardOf(reply.buttons, conversation.userId)));
        return String(sent.message_id);
      },
      async edit(conversation, reply, context) {
        if (context.stage === 'progress' && context.jobId) startChatAction(conversation, context.jobId, context.jobKind === 'upscale' ? 'upload_document' : 'upload_photo');
        if (context.stage === 'outcome' || context.stage === 'done') stopChatAction(context.jobId);
        return closedAsUndeliverable(editStatus(api, conversation, reply.text, inlineKeyboardOf(reply.buttons, conversation.userId)));
      },
    },
    async postResults(conversation, reply, jobId, shown) {
      stopChatAction(jobId);
      // Uploading an album or an 8K file takes a moment: say so while it happens.
      const action = reply.images?.some((image) => image.as === 'document') ? 'upload_document' : 'upload_photo';
      void api.sendChatAction(chatIdOf(conversation), action, placement(conversation, false)).catch(() => undefined);
      const privately = reply.ephemeral ? privateChatOf(conversation) : undefined;
      if (privately) {
        try {
          await postImages(privately, reply, jobId, shown);
          return { privately: true };
        } catch (error) {
          if (!isChatGone(error)) throw error;
          // Telegram lets a bot write to a person only once they have started it: the results go to the group after all.
          logger.info({ jobId }, 'private results could not be sent privately (the person has not started the bot); sending them to the chat');
        }
      }
      await closedAsUndeliverable(postImages(conversation, reply, jobId, shown));
      return { privately: false };
    },
    async tellPrivately(conversation, text) {
      const own = privateChatOf(conversation);
      if (!own) return false;
      await sendText(api, own, text);
      return true;
    },
    photoSource: (ref, label) => telegramPhotoSource(deps.files, ref as unknown as FileRef, label),
    settled: (jobId) => deps.steps.forgetDeliverySteps(jobId),
    close() {
      for (const jobId of [...tickers.keys()]) stopChatAction(jobId);
    },
  };
}
