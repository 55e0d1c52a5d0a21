import { readFile } from 'node:fs/promises';
import type { Queue } from 'bullmq';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ada, agreeToTerms, privateChat, telegramHarness, type FakeMessage, type TelegramHarness } from '../support/fake-telegram.js';
import { eventually } from '../support/test-app.js';

const astronaut = () => readFile(new URL('../../samples/astronaut.jpg', import.meta.url));

async function counts(h: TelegramHarness): Promise<{ jobs: number; ledger: number }> {
  const { rows } = await h.t.app.database.pool.query(
    "select (select count(*) from jobs)::int as jobs, (select count(*) from credit_ledger where reason <> 'free')::int as ledger",
  );
  return rows[0] as { jobs: number; ledger: number };
}

/** The bot's status message for a request: the first message replying to it. */
const statusFor = (h: TelegramHarness, request: FakeMessage) =>
  h.fake.waitFor(() => h.fake.sentIn(request.chat.id).find((m) => m.reply_to_message?.message_id === request.message_id && m.text), 5_000, 'status');

describe('Telegram: refused requests, redeliveries and rate limits', () => {
  let h: TelegramHarness;
  beforeEach(async () => {
    h = await telegramHarness();
    await agreeToTerms(h.fake, ada);
  });
  afterEach(() => h.cleanup());

  it('a text file, a corrupt JPEG and a photo with no face each get a message, and nothing is charged', async () => {
    const { fake } = h;
    const chat = privateChat(ada);
    const jpeg = await astronaut();
    const noFace = await sharp({ create: { width: 600, height: 800, channels: 3, background: '#7a9a88' } }).jpeg().toBuffer();

    const text = await fake.userSends({ chat, from: ada, caption: '/portrait', document: { bytes: Buffer.from('shopping list: eggs, milk'), name: 'me.jpg', mime: 'image/jpeg' } });
    const corrupt = await fake.userSends({ chat, from: ada, caption: '/portrait', document: { bytes: jpeg.subarray(0, jpeg.length / 3), name: 'me.jpg' } });
    const faceless = await fake.userSends({ chat, from: ada, caption: '/portrait', photo: noFace });

    const outcomes = await Promise.all(
      [text, corrupt, faceless].map(async ({ message }) => {
        const status = await statusFor(h, message);
        await fake.waitFor(() => !status.text?.startsWith('📥') && status.text, 10_000, 'refusal');
        return status.text!;
      }),
    );
    expect(outcomes[0]).toMatch(/isn't a photo I can read/);
    expect(outcomes[1]).toMatch(/seems damaged or incomplete/);
    expect(outcomes[2]).toMatch(/couldn't find a face/);
    expect(await counts(h)).toEqual({ jobs: 0, ledger: 0 });
  });

  it('a redelivered update (same update_id) makes no second job and no second answer', async () => {
    const { fake } = h;
    const chat = privateChat(ada);
    const { message, updateId } = await fake.userSends({ chat, from: ada, photo: await astronaut(), caption: '/portrait' });
    await statusFor(h, message);
    fake.pushUpdate({ message }, updateId);
    await fake.waitFor(() => fake.sentIn(chat.id).filter((m) => m.media_group_id).length === 4, 15_000, 'album');
    await eventually(async () => fake.pendingUpdates === 0 && fake.callsOf('getUpdates').length > 3);
    expect(h.logs()).toContain('redelivered update ignored');
    expect((await counts(h)).jobs).toBe(1);
    expect(fake.sentIn(chat.id).filter((m) => m.reply_to_message?.message_id === message.message_id && m.text)).toHaveLength(1);
    expect(fake.sentIn(chat.id).filter((m) => m.media_group_id)).toHaveLength(4);
  });

  it('when the first sendMediaGroup is answered 429, the results still arrive, once', async () => {
    const { fake } = h;
    const chat = privateChat(ada);
    fake.failNext('sendMediaGroup', { error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } });
    await fake.userSends({ chat, from: ada, photo: await astronaut(), caption: '/portrait' });
    await fake.waitFor(() => fake.button(chat.id, '⭐1'), 15_000, 'buttons after the album');
    const calls = fake.callsOf('sendMediaGroup');
    expect(calls.map((c) => c.failed)).toEqual([429, undefined]);
    // The wait was grammY's auto-retry honouring retry_after, inside one delivery attempt (no queue retry).
    const { rows } = await h.t.app.database.pool.query('select id from jobs');
    const { queue } = h.t.app.deliveryQueue as typeof h.t.app.deliveryQueue & { queue: Queue };
    const delivery = await eventually(async () => {
      const job = await queue.getJob(`succeeded-${rows[0].id}`);
      return job?.finishedOn ? job : undefined;
    });
    expect(delivery.stacktrace ?? []).toEqual([]);
    expect(fake.sentIn(chat.id).filter((m) => m.media_group_id)).toHaveLength(4);
    expect(fake.sentIn(chat.id).filter((m) => m.reply_markup?.inline_keyboard.flat().some((b) => b.text === '⭐1'))).toHaveLength(1);
  });

});

describe('Telegram: a person who blocked the bot', () => {
  let h: TelegramHarness;
  beforeEach(async () => {
    h = await telegramHarness({ workers: false, env: { MAX_ACTIVE_JOBS_PER_USER: '1' } });
    await agreeToTerms(h.fake, ada);
  });
  afterEach(() => h.cleanup());

  it('one request at a time is refused with a message; a 403 ends the delivery with no retries', async () => {
    const { fake } = h;
    const chat = privateChat(ada);
    const first = await fake.userSends({ chat, from: ada, photo: await astronaut(), caption: '/portrait' });
    const status = await statusFor(h, first.message);
    await fake.waitFor(() => status.text?.includes('queued — position 1'), 10_000, 'queued');

    const second = await fake.userSends({ chat, from: ada, photo: await astronaut(), caption: '/portrait' });
    const refused = await statusFor(h, second.message);
    await fake.waitFor(() => refused.text?.startsWith('You already have 1 requests in progress'), 10_000, 'too many active jobs');

    fake.block(ada.id);
    h.startWorkers();
    const { rows } = await eventually(async () => {
      const result = await h.t.app.database.pool.query("select status, delivered_at from jobs where status = 'succeeded' and delivered_at is not null");
      return result.rows.length === 1 ? result : undefined;
    });
    expect(rows).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1_200)); // a retry would come within the queue's first backoff (1 s)
    expect(fake.callsOf('sendMediaGroup').map((c) => c.failed)).toEqual([403]);
  });
});
