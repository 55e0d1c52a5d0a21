import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import sharp from 'sharp';
import { createTelegramFrontend, type TelegramFrontend, type TelegramTuning } from '../../src/bots/telegram/telegram.frontend.js';
import type { GpuBackend } from '../../src/gpu/backend.js';
import { createLocalBackend } from '../../src/gpu/local.backend.js';
import { resizeToLongEdge } from '../../src/images/index.js';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { createTestApp, type TestApp } from './test-app.js';

/**
 * A fake Telegram Bot API server on loopback, speaking the real HTTP protocol well enough for
 * grammY: JSON and multipart/form-data requests to `/bot<token>/<method>`, long-polled
 * `getUpdates` with offsets, and file downloads from `/file/bot<token>/<path>`. Tests play the
 * people in the chat (messages, albums, button presses, reactions) and read what the bot sent.
 */

export interface TgUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  username?: string;
}

export interface TgChat {
  id: number;
  type: 'private' | 'group' | 'supergroup';
  title?: string;
  first_name?: string;
}

/** A message as the fake keeps it: the Bot API's shape plus the bytes of any file the bot uploaded. */
export interface FakeMessage {
  message_id: number;
  date: number;
  chat: TgChat;
  from: TgUser;
  text?: string;
  caption?: string;
  media_group_id?: string;
  photo?: Array<{ file_id: string; file_unique_id: string; width: number; height: number; file_size: number }>;
  document?: { file_id: string; file_unique_id: string; file_name?: string; mime_type?: string; file_size: number };
  reply_markup?: { inline_keyboard: Array<Array<{ text: string; callback_data?: string; url?: string }>> };
  reply_to_message?: FakeMessage;
  message_thread_id?: number;
  /** Not part of the Bot API: what the bot uploaded, and every text the message showed. */
  uploaded?: Buffer;
  history?: string[];
  deleted?: boolean;
}

export interface ApiCall {
  method: string;
  params: Record<string, unknown>;
  /** The error the fake answered with, if it did. */
  failed?: number;
}

interface StoredFile {
  bytes: Buffer;
  path: string;
  uniqueId: string;
}

interface Waiter {
  offset: number;
  limit: number;
  resolve: (updates: unknown[]) => void;
}

const BOT_USER: TgUser = { id: 0, is_bot: true, first_name: 'Likeness', username: 'likeness_test_bot' };

export class FakeTelegram {
  readonly token: string;
  readonly bot: TgUser;
  readonly calls: ApiCall[] = [];
  private server!: Server;
  private port = 0;
  private updates: Array<{ update_id: number; forced?: boolean } & Record<string, unknown>> = [];
  private nextUpdateId = 100_000;
  private nextMessageId = new Map<number, number>();
  private messages = new Map<string, FakeMessage>();
  private files = new Map<string, StoredFile>();
  private waiters: Waiter[] = [];
  private faults: Array<{ method: string; error: { error_code: number; description: string; parameters?: Record<string, unknown> } }> = [];
  private blocked = new Map<number, RegExp>();
  private fileSeq = 0;

  constructor(botId = 7351946820) {
    this.token = `${botId}:AAH${randomBytes(16).toString('hex')}`;
    this.bot = { ...BOT_USER, id: botId };
  }

  /** The API root to give grammY (`client.apiRoot`, TELEGRAM_API_ROOT). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        res.writeHead(500).end(String(error));
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const waiter of this.waiters.splice(0)) waiter.resolve([]);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ——— what tests do as people in the chat ———

  /** Stores a file the way Telegram would after a user sent it; returns its ids. */
  addFile(bytes: Buffer, folder = 'photos', ext = 'jpg'): { file_id: string; file_unique_id: string; file_size: number } {
    const n = ++this.fileSeq;
    const fileId = `file-${n}-${randomBytes(6).toString('hex')}`;
    const uniqueId = `u${n}`;
    this.files.set(fileId, { bytes, path: `${folder}/file_${n}.${ext}`, uniqueId });
    return { file_id: fileId, file_unique_id: uniqueId, file_size: bytes.byteLength };
  }

  /** A user's message: text, a photo (compressed, with sizes) or a file (uncompressed document). */
  async userSends(options: {
    chat: TgChat;
    from: TgUser;
    text?: string;
    caption?: string;
    photo?: Buffer;
    document?: { bytes: Buffer; name: string; mime?: string };
    mediaGroupId?: string;
    replyTo?: FakeMessage;
    updateId?: number;
  }): Promise<{ message: FakeMessage; updateId: number }> {
    const message: FakeMessage = {
      message_id: this.messageIdFor(options.chat.id),
      date: Math.floor(Date.now() / 1000),
      chat: options.chat,
      from: options.from,
      ...(options.text !== undefined ? { text: options.text } : {}),
      ...(options.caption !== undefined ? { caption: options.caption } : {}),
      ...(options.mediaGroupId ? { media_group_id: options.mediaGroupId } : {}),
      ...(options.replyTo ? { reply_to_message: stripForReply(options.replyTo) } : {}),
    };
    if (options.photo) message.photo = await this.photoSizes(options.photo);
    if (options.document) {
      const file = this.addFile(options.document.bytes, 'documents', options.document.name.split('.').pop() ?? 'dat');
      message.document = { ...file, file_name: options.document.name, mime_type: options.document.mime };
    }
    this.store(message);
    const updateId = this.pushUpdate({ message: wire(message) }, options.updateId);
    return { message, updateId };
  }

  /** A press of an inline button on one of the bot's messages. */
  pressButton(options: { from: TgUser; message: FakeMessage; data: string }): number {
    return this.pushUpdate({
      callback_query: {
        id: randomBytes(8).toString('hex'),
        from: options.from,
        message: wire(options.message),
        chat_instance: String(options.message.chat.id),
        data: options.data,
      },
    });
  }

  /** A user adds a reaction to a message (Telegram sends the old and new lists). */
  react(options: { from: TgUser; message: FakeMessage; emoji: string; old?: string[] }): number {
    return this.pushUpdate({
      message_reaction: {
        chat: options.message.chat,
        message_id: options.message.message_id,
        user: options.from,
        date: Math.floor(Date.now() / 1000),
        old_reaction: (options.old ?? []).map((emoji) => ({ type: 'emoji', emoji })),
        new_reaction: [...(options.old ?? []), options.emoji].map((emoji) => ({ type: 'emoji', emoji })),
      },
    });
  }

  /**
   * Queues an update for getUpdates. A given `updateId` repeats an earlier update, as Telegram does
   * when the bot's confirmation was lost: it is delivered once more whatever the offset.
   */
  pushUpdate(body: Record<string, unknown>, updateId?: number): number {
    const id = updateId ?? ++this.nextUpdateId;
    this.updates.push({ update_id: id, ...body, ...(updateId !== undefined ? { forced: true } : {}) });
    this.wake();
    return id;
  }

  /** Takes a queued update out of getUpdates' queue, to post it to a webhook instead. */
  takeUpdate(updateId: number): Record<string, unknown> {
    const index = this.updates.findIndex((u) => u.update_id === updateId);
    if (index < 0) throw new Error(`no queued update ${updateId}`);
    const [{ forced: _forced, ...update }] = this.updates.splice(index, 1) as [(typeof this.updates)[number]];
    return update;
  }

  /** The next call of `method` fails with this error (e.g. 429 with retry_after). */
  failNext(method: string, error: { error_code: number; description: string; parameters?: Record<string, unknown> }): void {
    this.faults.push({ method, error });
  }

  /** From now on the user has blocked the bot: sending into their private chat (methods matching `methods`) answers 403. */
  block(userId: number, methods = /^(send|edit)/): void {
    this.blocked.set(userId, methods);
  }

  // ——— what tests read ———

  /** The bot's messages in a chat, oldest first (album parts each count). */
  sentIn(chatId: number): FakeMessage[] {
    return [...this.messages.values()].filter((m) => m.chat.id === chatId && m.from.id === this.bot.id && !m.deleted).sort((a, b) => a.message_id - b.message_id);
  }

  callsOf(method: string): ApiCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** The bot's message carrying a button whose label matches; with the button's callback data. */
  button(chatId: number, label: string | RegExp): { message: FakeMessage; data: string } | undefined {
    for (const message of this.sentIn(chatId).reverse()) {
      for (const row of message.reply_markup?.inline_keyboard ?? []) {
        for (const b of row) {
          if ((typeof label === 'string' ? b.text === label : label.test(b.text)) && b.callback_data) return { message, data: b.callback_data };
        }
      }
    }
    return undefined;
  }

  /** Polls until `check` returns something truthy. */
  async waitFor<T>(check: () => T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`fake telegram: ${what} not met within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Unconfirmed updates still waiting for getUpdates. */
  get pendingUpdates(): number {
    return this.updates.length;
  }

  // ——— the Bot API ———

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const fileMatch = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (req.method === 'GET' && fileMatch) {
      const file = [...this.files.values()].find((f) => f.path === decodeURIComponent(fileMatch[2]!));
      if (fileMatch[1] !== this.token || !file) return void res.writeHead(404).end('Not Found');
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.bytes.byteLength });
      return void res.end(file.bytes);
    }
    const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    if (!match) return this.answer(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    if (match[1] !== this.token) return this.answer(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const method = match[2]!;
    const { params, files } = await parseBody(req, url);
    const call: ApiCall = { method, params };
    this.calls.push(call);

    const fault = this.faults.findIndex((f) => f.method === method);
    if (fault >= 0) {
      const [{ error }] = this.faults.splice(fault, 1) as [(typeof this.faults)[number]];
      call.failed = error.error_code;
      return this.answer(res, error.error_code, { ok: false, ...error });
    }
    const chatId = Number(params.chat_id);
    if (this.blocked.get(chatId)?.test(method)) {
      call.failed = 403;
      return this.answer(res, 403, { ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' });
    }
    try {
      const result = await this.call(method, params, files, req, res);
      if (result === LONG_POLL) return;
      this.answer(res, 200, { ok: true, result });
    } catch (error) {
      if (error instanceof ApiError) {
        call.failed = error.code;
        return this.answer(res, error.code, { ok: false, error_code: error.code, description: error.message });
      }
      throw error;
    }
  }

  private answer(res: ServerResponse, status: number, body: unknown): void {
    const json = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  }

  private async call(method: string, p: Record<string, unknown>, files: Map<string, Buffer>, req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    switch (method) {
      case 'getMe':
        return { ...this.bot, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false };
      case 'getUpdates':
        return this.getUpdates(p, req, res);
      case 'setWebhook':
      case 'deleteWebhook':
      case 'setMyCommands':
      case 'sendChatAction':
      case 'answerCallbackQuery':
        return true;
      case 'deleteMessage': {
        const message = this.messages.get(`${p.chat_id}:${p.message_id}`);
        if (!message) throw new ApiError(400, 'Bad Request: message to delete not found');
        message.deleted = true;
        return true;
      }
      case 'sendMessage':
        return wire(this.botMessage(p, { text: String(p.text) }));
      case 'editMessageText': {
        const message = this.messages.get(`${p.chat_id}:${p.message_id}`);
        if (!message || message.deleted) throw new ApiError(400, 'Bad Request: message to edit not found');
        const markup = p.reply_markup as FakeMessage['reply_markup'];
        if (message.text === p.text && JSON.stringify(message.reply_markup) === JSON.stringify(markup)) {
          throw new ApiError(400, 'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message');
        }
        message.text = String(p.text);
        message.reply_markup = markup;
        message.history!.push(message.text);
        return wire(message);
      }
      case 'editMessageReplyMarkup': {
        const message = this.messages.get(`${p.chat_id}:${p.message_id}`);
        if (!message) throw new ApiError(400, 'Bad Request: message to edit not found');
        message.reply_markup = p.reply_markup as FakeMessage['reply_markup'];
        return wire(message);
      }
      case 'sendPhoto': {
        const bytes = attached(p.photo, files);
        return wire(this.botMessage(p, { caption: p.caption as string | undefined, photo: await this.checkPhoto(bytes), uploaded: bytes }));
      }
      case 'sendDocument': {
        const bytes = attached(p.document, files);
        if (bytes.byteLength > 50 * 1024 * 1024) throw new ApiError(413, 'Request Entity Too Large');
        const file = this.addFile(bytes, 'documents');
        const name = String((p.document as string).startsWith('attach://') ? files.get(`name:${(p.document as string).slice(9)}`) ?? 'document' : 'document');
        return wire(this.botMessage(p, { caption: p.caption as string | undefined, document: { ...file, file_name: name }, uploaded: bytes }));
      }
      case 'sendMediaGroup': {
        const media = p.media as Array<{ type: string; media: string; caption?: string }>;
        if (!Array.isArray(media) || media.length < 2 || media.length > 10) throw new ApiError(400, 'Bad Request: wrong number of media in the group');
        const groupId = String(Date.now()) + randomBytes(3).readUIntBE(0, 3);
        const sent: FakeMessage[] = [];
        for (const item of media) {
          if (item.type !== 'photo') throw new ApiError(400, 'Bad Request: only photos are expected here');
          const bytes = attached(item.media, files);
          sent.push(this.botMessage(p, { caption: item.caption, photo: await this.checkPhoto(bytes), uploaded: bytes, media_group_id: groupId }));
        }
        return sent.map(wire);
      }
      case 'getFile': {
        const file = this.files.get(String(p.file_id));
        if (!file) throw new ApiError(400, 'Bad Request: invalid file_id');
        if (file.bytes.byteLength > 20 * 1024 * 1024) throw new ApiError(400, 'Bad Request: file is too big');
        return { file_id: p.file_id, file_unique_id: file.uniqueId, file_size: file.bytes.byteLength, file_path: file.path };
      }
      default:
        throw new ApiError(404, 'Not Found: method not found');
    }
  }

  private getUpdates(p: Record<string, unknown>, req: IncomingMessage, res: ServerResponse): unknown {
    const offset = Number(p.offset ?? 0);
    const limit = Math.max(1, Math.min(100, Number(p.limit ?? 100)));
    const timeout = Number(p.timeout ?? 0);
    // An offset confirms every update before it.
    if (offset > 0) this.updates = this.updates.filter((u) => u.update_id >= offset || u.forced);
    const ready = this.take(offset, limit);
    if (ready.length > 0 || timeout <= 0) return ready;
    const waiter: Waiter = {
      offset,
      limit,
      resolve: (updates) => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        if (!res.writableEnded && !res.destroyed) this.answer(res, 200, { ok: true, result: updates });
      },
    };
    const timer = setTimeout(() => waiter.resolve([]), timeout * 1000);
    req.on('close', () => {
      clearTimeout(timer);
      this.waiters = this.waiters.filter((w) => w !== waiter);
    });
    this.waiters.push(waiter);
    return LONG_POLL;
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) {
      const ready = this.take(waiter.offset, waiter.limit);
      if (ready.length > 0) waiter.resolve(ready);
    }
  }

  /** Updates for a getUpdates call; a forced redelivery goes out once (no offset will confirm it). */
  private take(offset: number, limit: number): unknown[] {
    const ready = this.updates.filter((u) => u.update_id >= offset || u.forced).slice(0, limit);
    this.updates = this.updates.filter((u) => !(u.forced && ready.includes(u)));
    return ready.map(({ forced: _forced, ...update }) => update);
  }

  private messageIdFor(chatId: number): number {
    const next = (this.nextMessageId.get(chatId) ?? 0) + 1;
    this.nextMessageId.set(chatId, next);
    return next;
  }

  private store(message: FakeMessage): void {
    this.messages.set(`${message.chat.id}:${message.message_id}`, message);
  }

  private botMessage(p: Record<string, unknown>, content: Partial<FakeMessage>): FakeMessage {
    const chatId = Number(p.chat_id);
    if (!Number.isFinite(chatId)) throw new ApiError(400, 'Bad Request: chat not found');
    const replyTo = (p.reply_parameters as { message_id?: number } | undefined)?.message_id;
    const replied = replyTo ? this.messages.get(`${chatId}:${replyTo}`) : undefined;
    const chat: TgChat = chatId > 0 ? { id: chatId, type: 'private', first_name: 'user' } : { id: chatId, type: 'supergroup', title: 'group' };
    const message: FakeMessage = {
      message_id: this.messageIdFor(chatId),
      date: Math.floor(Date.now() / 1000),
      chat,
      from: this.bot,
      ...content,
      ...(p.reply_markup ? { reply_markup: p.reply_markup as FakeMessage['reply_markup'] } : {}),
      ...(replied ? { reply_to_message: stripForReply(replied) } : {}),
      ...(p.message_thread_id ? { message_thread_id: Number(p.message_thread_id) } : {}),
      history: content.text !== undefined ? [content.text] : [],
    };
    this.store(message);
    return message;
  }

  /** Telegram's photo rules: at most 10 MB, width + height at most 10000. Returns the photo sizes of the stored photo. */
  private async checkPhoto(bytes: Buffer): Promise<NonNullable<FakeMessage['photo']>> {
    if (bytes.byteLength > 10 * 1000 * 1000) throw new ApiError(400, 'Bad Request: PHOTO_INVALID_DIMENSIONS');
    const meta = await sharp(bytes).metadata().catch(() => undefined);
    if (!meta?.width || !meta.height) throw new ApiError(400, 'Bad Request: IMAGE_PROCESS_FAILED');
    if (meta.width + meta.height > 10_000) throw new ApiError(400, 'Bad Request: PHOTO_INVALID_DIMENSIONS');
    return this.photoSizes(bytes);
  }

  private async photoSizes(bytes: Buffer): Promise<NonNullable<FakeMessage['photo']>> {
    const meta = await sharp(bytes).metadata().catch(() => ({ width: 0, height: 0 }));
    const full = this.addFile(bytes);
    const thumb = this.addFile(bytes.subarray(0, Math.min(bytes.byteLength, 64)));
    return [
      { ...thumb, width: 90, height: 90 },
      { ...full, width: meta.width ?? 0, height: meta.height ?? 0 },
    ];
  }
}

const LONG_POLL = Symbol('long poll');

class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** A message as sent over the wire: without the fake's own bookkeeping. */
function wire(message: FakeMessage): Record<string, unknown> {
  const { uploaded: _uploaded, history: _history, deleted: _deleted, ...rest } = message;
  return rest;
}

/** Telegram includes the replied-to message one level deep only. */
function stripForReply(message: FakeMessage): FakeMessage {
  const { reply_to_message: _nested, ...rest } = wire(message) as unknown as FakeMessage;
  return rest;
}

function attached(value: unknown, files: Map<string, Buffer>): Buffer {
  if (typeof value !== 'string' || !value.startsWith('attach://')) throw new ApiError(400, 'Bad Request: expected an uploaded file');
  const bytes = files.get(value.slice('attach://'.length));
  if (!bytes) throw new ApiError(400, 'Bad Request: file to upload not found');
  return bytes;
}

/** JSON, multipart/form-data (as grammY sends files) or query parameters. */
async function parseBody(req: IncomingMessage, url: URL): Promise<{ params: Record<string, unknown>; files: Map<string, Buffer> }> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
  const files = new Map<string, Buffer>();
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('application/json') && body.length > 0) Object.assign(params, JSON.parse(body.toString('utf8')));
  const boundary = /boundary=(.+)$/.exec(type)?.[1];
  if (type.startsWith('multipart/form-data') && boundary) {
    for (const part of splitMultipart(body, boundary)) {
      const name = /name="([^"]+)"/i.exec(part.headers)?.[1];
      if (!name) continue;
      const filename = /filename="?([^";\r\n]+)"?/i.exec(part.headers)?.[1];
      if (filename !== undefined) {
        files.set(name, part.body);
        files.set(`name:${name}`, Buffer.from(filename));
      } else params[name] = coerce(part.body.toString('utf8'));
    }
  }
  return { params, files };
}

function coerce(value: string): unknown {
  if (/^-?\d+$/.test(value)) return Number(value);
  if (value.startsWith('{') || value.startsWith('[')) return JSON.parse(value);
  if (value === 'true' || value === 'false') return value === 'true';
  return value;
}

function splitMultipart(body: Buffer, boundary: string): Array<{ headers: string; body: Buffer }> {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Array<{ headers: string; body: Buffer }> = [];
  let start = body.indexOf(delimiter);
  while (start >= 0) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next < 0) break;
    const chunk = body.subarray(start + delimiter.length, next);
    const headerEnd = chunk.indexOf('\r\n\r\n');
    if (headerEnd >= 0) {
      const headers = chunk.subarray(0, headerEnd).toString('utf8');
      // Each part ends with the CRLF that precedes the next delimiter.
      const content = chunk.subarray(headerEnd + 4, chunk.length - 2);
      parts.push({ headers, body: content });
    }
    start = next;
  }
  return parts;
}

/** Everything an end-to-end Telegram test runs on: the fake, a full app on a fresh database, and the real grammY front-end. */
export interface TelegramHarness {
  fake: FakeTelegram;
  t: TestApp;
  frontend: TelegramFrontend;
  http?: HttpServer;
  webhookUrl?: string;
  webhookSecret?: string;
  /** Everything the front-end logged (pino JSON lines), unredacted: the test checks that no token is in it. */
  logs(): string;
  /** Starts the GPU worker (local CPU backend) and the delivery worker, unless the harness already did. */
  startWorkers(): void;
  cleanup(): Promise<void>;
}

export async function telegramHarness(
  options: { env?: Record<string, string>; webhook?: boolean; workers?: boolean; tuning?: Partial<TelegramTuning> } = {},
): Promise<TelegramHarness> {
  const fake = await new FakeTelegram().start();
  const lines: string[] = [];
  // A plain pino with no redaction at all: whatever the front-end logs is seen as written.
  const logger: Logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  const env: Record<string, string> = { TELEGRAM_BOT_TOKEN: fake.token, TELEGRAM_API_ROOT: fake.url, GPU_BACKEND: 'local', ...options.env };
  let http: HttpServer | undefined;
  if (options.webhook) {
    http = createHttpServer({ logger });
    const port = await http.listen(0, '127.0.0.1');
    env.TELEGRAM_WEBHOOK_URL = `http://127.0.0.1:${port}/telegram/webhook`;
    env.TELEGRAM_WEBHOOK_SECRET = `wh-${randomBytes(12).toString('hex')}`;
  }
  const t = await createTestApp(env);
  const frontend = createTelegramFrontend({
    app: t.app,
    config: t.config,
    logger,
    http,
    tuning: { albumQuietMs: 250, pollTimeoutSeconds: 1, chatActionEveryMs: 200, ...options.tuning },
  });
  await frontend.start();
  let started = false;
  const startWorkers = () => {
    if (started) return;
    started = true;
    t.app.startGpuWorker(env.GPU_BACKEND === 'local' ? quickLocalBackend() : undefined);
    t.app.startDeliveryWorker(new Map([['telegram', frontend.deliverer]]));
  };
  if (options.workers !== false) startWorkers();
  return {
    fake,
    t,
    frontend,
    http,
    webhookUrl: env.TELEGRAM_WEBHOOK_URL,
    webhookSecret: env.TELEGRAM_WEBHOOK_SECRET,
    logs: () => lines.join(''),
    startWorkers,
    async cleanup() {
      await frontend.stop();
      await t.cleanup();
      await frontend.close();
      await http?.close();
      await fake.close();
    },
  };
}

/**
 * The local backend's real portraits, with a plain lanczos resize for the 8K upscale (a true 8K
 * JPEG in a second, where the local preview's sharpening and labelling take several): these tests
 * are about Telegram, not about the pixels.
 */
export function quickLocalBackend(): GpuBackend {
  const local = createLocalBackend();
  return {
    name: 'local',
    async run(task, signal) {
      if (task.kind !== 'upscale') return local.run(task, signal);
      const started = performance.now();
      const image = await resizeToLongEdge(task.image, task.targetLongEdge);
      return { images: [image], model: 'test/lanczos', gpuSeconds: (performance.now() - started) / 1000, costUsd: 0 };
    },
  };
}

/** People and chats for tests. */
export const ada: TgUser = { id: 1001, is_bot: false, first_name: 'Ada', username: 'ada' };
export const bob: TgUser = { id: 1002, is_bot: false, first_name: 'Bob' };
export const privateChat = (user: TgUser): TgChat => ({ id: user.id, type: 'private', first_name: user.first_name });
export const group: TgChat = { id: -100123, type: 'supergroup', title: 'Family' };

/** /start, then "I agree": what a newcomer does before the first portrait. */
export async function agreeToTerms(fake: FakeTelegram, user: TgUser, chat: TgChat = privateChat(user)): Promise<void> {
  await fake.userSends({ chat, from: user, text: '/start' });
  const agree = await fake.waitFor(() => fake.button(chat.id, 'I agree'), 10_000, 'consent card');
  fake.pressButton({ from: user, message: agree.message, data: agree.data });
  await fake.waitFor(() => fake.sentIn(chat.id).find((m) => m.text?.startsWith('Thank you')), 10_000, 'consent recorded');
}
