/**
 * What the fake Telegram received, per chat and in time: every Bot API call the fake answered is
 * stamped (within a few ms) as it arrives, so a scenario can say when each result reached its
 * chat, and whether it reached it more than once.
 */
import type { ApiCall, FakeTelegram } from '../support/fake-telegram.js';

export interface StampedCall {
  call: ApiCall;
  at: number;
}

/** One chat's view: the albums (4 portraits) and the texts the bot posted there, with times. */
export interface ChatDeliveries {
  albums: number[];
  texts: Array<{ text: string; at: number }>;
}

export interface DeliveryWatch {
  /** Stamped calls so far (stamps lag the arrival by at most the poll interval). */
  calls(): StampedCall[];
  byChat(): Map<number, ChatDeliveries>;
  /** Resolves with the time the first album for `chatId` arrived (taken as sent; the verdict uses byChat). */
  album(chatId: number, timeoutMs: number): Promise<number>;
  stop(): void;
}

const POLL_MS = 10;

export function watchDeliveries(fake: FakeTelegram): DeliveryWatch {
  const stamped: StampedCall[] = [];
  const firstAlbum = new Map<number, number>();
  const waiters = new Map<number, Array<(at: number) => void>>();
  const poll = () => {
    const now = Date.now();
    while (stamped.length < fake.calls.length) {
      const call = fake.calls[stamped.length]!;
      stamped.push({ call, at: now });
      const chat = Number(call.params.chat_id);
      if (call.method !== 'sendMediaGroup' || firstAlbum.has(chat)) continue;
      firstAlbum.set(chat, now);
      for (const wake of waiters.get(chat) ?? []) wake(now);
      waiters.delete(chat);
    }
  };
  const timer = setInterval(poll, POLL_MS);
  return {
    album(chatId, timeoutMs) {
      poll();
      const at = firstAlbum.get(chatId);
      if (at !== undefined) return Promise.resolve(at);
      return new Promise((resolve, reject) => {
        const timeout = setTimeout(() => reject(new Error(`no album in chat ${chatId} within ${timeoutMs} ms`)), timeoutMs);
        waiters.set(chatId, [...(waiters.get(chatId) ?? []), (t) => (clearTimeout(timeout), resolve(t))]);
      });
    },
    calls() {
      poll();
      return stamped;
    },
    byChat() {
      poll();
      return groupByChat(stamped);
    },
    stop() {
      clearInterval(timer);
    },
  };
}

/** Pure: the successful album and text posts per chat. A failed call (answered with an error) delivered nothing. */
export function groupByChat(calls: readonly StampedCall[]): Map<number, ChatDeliveries> {
  const chats = new Map<number, ChatDeliveries>();
  const chat = (id: number) => {
    let found = chats.get(id);
    if (!found) chats.set(id, (found = { albums: [], texts: [] }));
    return found;
  };
  for (const { call, at } of calls) {
    if (call.failed) continue;
    const id = Number(call.params.chat_id);
    if (!Number.isFinite(id)) continue;
    if (call.method === 'sendMediaGroup') chat(id).albums.push(at);
    else if (call.method === 'sendMessage' || call.method === 'editMessageText') chat(id).texts.push({ text: String(call.params.text ?? ''), at });
  }
  return chats;
}
