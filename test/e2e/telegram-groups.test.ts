import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ada, agreeToTerms, bob, group, privateChat, telegramHarness, type FakeMessage, type TelegramHarness } from '../support/fake-telegram.js';

const astronaut = () => readFile(new URL('../../samples/astronaut.jpg', import.meta.url));

const jobCount = async (h: TelegramHarness): Promise<number> => (await h.t.app.database.pool.query('select count(*)::int as n from jobs')).rows[0].n;

/** The bot's status message for a request: the first message replying to it. */
const statusFor = (h: TelegramHarness, request: FakeMessage) =>
  h.fake.waitFor(() => h.fake.sentIn(request.chat.id).find((m) => m.reply_to_message?.message_id === request.message_id && m.text), 5_000, 'status');

describe('Telegram: groups, admins and private results', () => {
  let h: TelegramHarness;
  beforeEach(async () => {
    h = await telegramHarness({ env: { ADMIN_IDS: `telegram:${ada.id}` } });
    await agreeToTerms(h.fake, ada);
  });
  afterEach(() => h.cleanup());

  it('/admin answers only ADMIN_IDS; an admin grants credits', async () => {
    const { fake } = h;
    const answer = async (user: typeof ada, text: string) => {
      const { message } = await fake.userSends({ chat: privateChat(user), from: user, text });
      return (await statusFor(h, message)).text;
    };
    expect(await answer(bob, '/admin stats')).toMatch(/I don't know that command/);
    expect(await answer(ada, `/admin grant telegram:${bob.id} 5`)).toBe(`Granted 5 credits to telegram:${bob.id}.`);
    expect(await answer(bob, '/credits')).toMatch(/^Credits: 5 · free today: 8 of 8/);
    expect(await answer(ada, '/admin stats')).toMatch(/^Usage, last 7 days \(UTC\)\nTotal — 0 jobs/);
  });

  it('in a group: commands for another bot are ignored; /portrait replying to a photo works; only the requester can use the buttons', async () => {
    const { fake } = h;
    const { message: photo } = await fake.userSends({ chat: group, from: ada, photo: await astronaut() });
    await fake.userSends({ chat: group, from: ada, text: '/portrait@some_other_bot', replyTo: photo });
    await fake.userSends({ chat: group, from: ada, text: 'what a nice picture' });
    const { message: request } = await fake.userSends({ chat: group, from: ada, text: '/portrait@likeness_test_bot headshot', replyTo: photo });
    const star = await fake.waitFor(() => fake.button(group.id, '⭐3'), 15_000, 'results in the group');
    expect(fake.sentIn(group.id).filter((m) => m.reply_to_message?.message_id === request.message_id && m.text)).toHaveLength(1);
    expect(fake.sentIn(group.id).filter((m) => m.history?.[0]?.startsWith('📥'))).toHaveLength(1); // nothing for the other two

    // Bob presses Ada's ⭐3: a short notice on the button itself, and no job.
    fake.pressButton({ from: bob, message: star.message, data: star.data });
    const notice = await fake.waitFor(() => fake.callsOf('answerCallbackQuery').find((c) => c.params.text), 5_000, 'notice for Bob');
    expect(notice.params.text).toMatch(/^Only the person who asked/);
    expect(await jobCount(h)).toBe(1);
  });

  it('/link in a group posts no code: everyone there would read it (issue 21, point 1); in private it does', async () => {
    const { fake } = h;
    const { message: inGroup } = await fake.userSends({ chat: group, from: ada, text: '/link' });
    const refusal = await statusFor(h, inGroup);
    expect(refusal.text).toMatch(/for you alone.*private chat/);
    for (const command of ['/credits', '/history', '/forget']) {
      const { message } = await fake.userSends({ chat: group, from: ada, text: command });
      expect((await statusFor(h, message)).text, command).toMatch(/private chat/);
    }
    const code = /[A-Z0-9]{4}-[A-Z0-9]{4}/;
    expect(fake.sentIn(group.id).filter((m) => code.test(m.text ?? ''))).toEqual([]);
    expect((await h.t.app.database.pool.query('select count(*)::int as n from link_codes')).rows[0].n).toBe(0);

    const { message: inPrivate } = await fake.userSends({ chat: privateChat(ada), from: ada, text: '/link' });
    expect((await statusFor(h, inPrivate)).text).toMatch(code);
  });

  it('a memorial portrait asked for in a group is sent to the requester privately', async () => {
    const { fake } = h;
    const { message: photo } = await fake.userSends({ chat: group, from: ada, photo: await astronaut() });
    const { message: request } = await fake.userSends({ chat: group, from: ada, text: '/portrait memorial', replyTo: photo });
    const status = await statusFor(h, request);
    await fake.waitFor(() => status.text?.includes('private chat'), 15_000, 'done privately');
    const album = fake.sentIn(ada.id).filter((m) => m.media_group_id);
    expect(album).toHaveLength(4);
    expect(fake.sentIn(group.id).filter((m) => m.media_group_id)).toHaveLength(0);
    expect(fake.button(ada.id, '⭐1')?.message.text).toContain('AI reconstruction — not an original photograph');
  });
});
