/**
 * The smallest Bot API server grammY will run against, for the soak: it keeps nothing but a count
 * of albums per chat, so a hundred thousand jobs do not grow the runner's own memory the way a
 * full fake (which keeps every message and file) would.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chatIdOf } from './rate-limit-proxy.js';

export interface CountingTelegram {
  url: string;
  token: string;
  /** Albums received per chat. */
  albums: Map<number, number>;
  /** Resolves when the first album for `chatId` arrives. */
  album(chatId: number): Promise<void>;
  calls: number;
  close(): Promise<void>;
}

const BOT = { id: 7351946821, is_bot: true, first_name: 'Likeness', username: 'likeness_soak_bot', can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false };

export async function startCountingTelegram(): Promise<CountingTelegram> {
  const token = `${BOT.id}:AAHsoak${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  const albums = new Map<number, number>();
  const waiters = new Map<number, () => void>();
  let messageId = 0;
  const polls = new Set<ServerResponse>();
  const message = (chatId: number) => ({ message_id: ++messageId, date: Math.floor(Date.now() / 1000), chat: { id: chatId, type: 'private', first_name: 'soak' }, from: BOT });

  const answer = (res: ServerResponse, result: unknown) => {
    const json = JSON.stringify({ ok: true, result });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
  };

  const route = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const method = /^\/bot[^/]+\/(\w+)$/.exec(new URL(req.url ?? '/', 'http://x').pathname)?.[1];
    fake.calls += 1;
    const chatId = Number(chatIdOf(body, req.headers['content-type'] ?? '') ?? 0);
    switch (method) {
      case 'getMe':
        return answer(res, BOT);
      case 'getUpdates': {
        // Nobody writes to the bot in a soak: hold the long poll a little, then say so.
        polls.add(res);
        const timer = setTimeout(() => {
          polls.delete(res);
          if (!res.writableEnded) answer(res, []);
        }, 1_000);
        res.on('close', () => {
          clearTimeout(timer);
          polls.delete(res);
        });
        return;
      }
      case 'sendMediaGroup': {
        albums.set(chatId, (albums.get(chatId) ?? 0) + 1);
        waiters.get(chatId)?.();
        waiters.delete(chatId);
        return answer(res, [1, 2, 3, 4].map(() => ({ ...message(chatId), photo: [{ file_id: 'x', file_unique_id: 'x', width: 8, height: 10 }] })));
      }
      case 'sendMessage':
      case 'editMessageText':
      case 'sendPhoto':
      case 'sendDocument':
        return answer(res, message(chatId));
      default:
        return answer(res, true);
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => route(req, res, Buffer.concat(chunks)));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  const fake: CountingTelegram = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token,
    albums,
    calls: 0,
    album(chatId) {
      if (albums.has(chatId)) return Promise.resolve();
      return new Promise((resolve) => waiters.set(chatId, resolve));
    },
    async close() {
      for (const res of polls) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}
