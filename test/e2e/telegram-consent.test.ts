import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ada, privateChat, telegramHarness, type TelegramHarness } from '../support/fake-telegram.js';

const astronaut = () => readFile(new URL('../../samples/astronaut.jpg', import.meta.url));

describe('Telegram: a first photo request waits for the terms, then runs', () => {
  let h: TelegramHarness;
  beforeEach(async () => {
    h = await telegramHarness();
  });
  afterEach(() => h.cleanup());

  it('shows the terms instead of queueing; "I agree" runs the same request once, without sending the photo again', async () => {
    const { fake } = h;
    const chat = privateChat(ada);
    await fake.userSends({ chat, from: ada, photo: await astronaut(), caption: '/portrait noir' });
    const agree = await fake.waitFor(() => fake.button(chat.id, 'I agree'), 10_000, 'consent card');
    expect(agree.message.text).toMatch(/permission/i);
    const jobsBefore = await h.t.app.database.pool.query('select count(*)::int as n from jobs');
    expect(jobsBefore.rows[0].n).toBe(0);

    // Pressed twice (an impatient thumb): one job all the same.
    fake.pressButton({ from: ada, message: agree.message, data: agree.data });
    fake.pressButton({ from: ada, message: agree.message, data: agree.data });
    const album = await fake.waitFor(() => {
      const photos = fake.sentIn(chat.id).filter((m) => m.media_group_id);
      return photos.length === 4 ? photos : undefined;
    }, 20_000, 'album of 4');
    expect(fake.sentIn(chat.id).some((m) => m.text?.startsWith('Thank you'))).toBe(true);
    const { rows } = await h.t.app.database.pool.query(`select kind, style, status from jobs`);
    expect(rows).toEqual([{ kind: 'portrait', style: 'noir', status: 'succeeded' }]);
    expect(new Set(album.map((m) => m.media_group_id)).size).toBe(1);
  });
});
