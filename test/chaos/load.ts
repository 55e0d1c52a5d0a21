/**
 * A steady stream of portrait requests through the command layer, as a chat front-end would make
 * them: one Telegram-shaped request per call, each answered in its own private chat (so what the
 * platform received can be told apart per request), every reply and its latency recorded.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { App } from '../../src/app.js';
import type { PhotoSource, Request } from '../../src/bots/core/request.js';

/** What happened to one request, as the person saw it. */
export interface RequestRecord {
  seq: number;
  eventId: string;
  userId: string;
  chatId: number;
  /** Wall-clock ms (Date.now()) when it was handed to the command layer, and when the reply came. */
  sentAt: number;
  repliedAt?: number;
  /** Set when a job was queued (or found queued). */
  jobId?: string;
  /** The error code of a refusal. */
  code?: string;
  text?: string;
  /** The command layer threw (it promises never to). */
  threw?: string;
}

export const replyMs = (r: RequestRecord): number => (r.repliedAt ?? Number.NaN) - r.sentAt;

export interface Load {
  readonly records: RequestRecord[];
  /** Accounts with consent, one per user id (done once, before a stream). */
  consent(userIds: readonly string[]): Promise<void>;
  /** One request from `userId`; resolves with its record once the reply came. */
  submit(userId: string): Promise<RequestRecord>;
  /**
   * `ratePerSec` requests a second for `durationMs`, paced by the clock (not by replies: a slow
   * reply does not slow the stream), users taken in turn. Resolves once every reply came.
   */
  stream(options: { ratePerSec: number; durationMs: number; users: readonly string[]; stop?: () => boolean }): Promise<RequestRecord[]>;
}

const photoSource = (bytes: Buffer): PhotoSource => ({ label: 'photo 1', declaredBytes: bytes.byteLength, read: async () => bytes });

/** Chat ids start here; each request gets the next one. */
const FIRST_CHAT = 10_000_000;

export function createLoad(app: Pick<App, 'commands'>, options: { photo: Buffer; runId: string }): Load {
  const records: RequestRecord[] = [];
  let seq = 0;

  const requestOf = (record: RequestRecord): Request => ({
    platform: 'telegram',
    eventId: record.eventId,
    user: { id: record.userId, displayName: `chaos ${record.userId}` },
    conversation: { platform: 'telegram', chatId: String(record.chatId), messageId: '1', userId: record.userId },
    command: 'portrait',
    options: {},
    photos: [photoSource(options.photo)],
  });

  const load: Load = {
    records,
    async consent(userIds) {
      for (let i = 0; i < userIds.length; i += 16) {
        await Promise.all(
          userIds.slice(i, i + 16).map(async (userId) => {
            const reply = await app.commands.handle({
              platform: 'telegram',
              eventId: `consent-${options.runId}-${userId}`,
              user: { id: userId },
              conversation: { platform: 'telegram', chatId: userId },
              command: 'consent',
            });
            if (reply.tone === 'error') throw new Error(`consent for ${userId} failed: ${reply.text}`);
          }),
        );
      }
    },
    async submit(userId) {
      const n = ++seq;
      const record: RequestRecord = { seq: n, eventId: `chaos-${options.runId}-${n}`, userId, chatId: FIRST_CHAT + n, sentAt: Date.now() };
      records.push(record);
      try {
        const reply = await app.commands.handle(requestOf(record));
        record.repliedAt = Date.now();
        record.text = reply.text;
        if (reply.job) record.jobId = reply.job.id;
        else record.code = reply.code ?? (reply.tone === 'error' ? 'APOLOGY' : 'NO_JOB');
      } catch (error) {
        record.repliedAt = Date.now();
        record.threw = error instanceof Error ? error.message : String(error);
      }
      return record;
    },
    async stream({ ratePerSec, durationMs, users, stop }) {
      const started = Date.now();
      const count = Math.round((ratePerSec * durationMs) / 1000);
      const pending: Array<Promise<RequestRecord>> = [];
      for (let i = 0; i < count; i++) {
        if (stop?.()) break;
        const due = started + (i * 1000) / ratePerSec;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        pending.push(load.submit(users[i % users.length]!));
      }
      return Promise.all(pending);
    },
  };
  return load;
}

/** `n` user ids with a prefix, e.g. `users('s1', 40)` → s1-1 … s1-40. Telegram ids are numbers, so these are numeric strings. */
export function userIds(base: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(base + i + 1));
}
