import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resultsOfJob } from '../../src/db/results.repository.js';
import { ada, agreeToTerms, privateChat, telegramHarness, type FakeMessage, type TelegramHarness } from '../support/fake-telegram.js';
import { eventually } from '../support/test-app.js';

const astronaut = () => readFile(new URL('../../samples/astronaut.jpg', import.meta.url));

/** The job rows, as plain JSON, for checks on what they hold. */
async function jobRows(h: TelegramHarness) {
  const { rows } = await h.t.app.database.pool.query('select * from jobs order by created_at');
  return rows as Array<{ id: string; kind: string; status: string; inputs: string[]; conversation: Record<string, string>; delivered_at: Date | null }>;
}

describe('Telegram: photos in a chat become portraits, a favourite becomes an 8K file', () => {
  let h: TelegramHarness;
  beforeEach(async () => {
    h = await telegramHarness();
  });
  afterEach(() => h.cleanup());

  it('a photo captioned /portrait → status within a second → album of 4 → ⭐2 → 8K document; ❤ on another photo → another', async () => {
    const { fake } = h;
    const chat = privateChat(ada);
    await agreeToTerms(fake, ada);
    expect(fake.callsOf('setMyCommands')[0]?.params.commands).toEqual(expect.arrayContaining([expect.objectContaining({ command: 'portrait' })]));
    expect(fake.callsOf('getUpdates')[0]?.params.allowed_updates).toEqual(['message', 'callback_query', 'message_reaction']);

    const sentAt = Date.now();
    const { message: request } = await fake.userSends({ chat, from: ada, photo: await astronaut(), caption: '/portrait noir by a rainy window' });
    const status = await fake.waitFor(() => fake.sentIn(chat.id).find((m) => m.reply_to_message?.message_id === request.message_id && m.text), 1_000, 'status');
    expect(Date.now() - sentAt).toBeLessThan(1_000);

    const album = await fake.waitFor(() => {
      const photos = fake.sentIn(chat.id).filter((m) => m.media_group_id);
      return photos.length === 4 ? photos : undefined;
    }, 15_000, 'album of 4');
    expect(new Set(album.map((m) => m.media_group_id)).size).toBe(1);
    for (const photo of album) expect(photo.reply_to_message?.message_id).toBe(request.message_id);
    for (const photo of album) expect((await sharp(photo.uploaded!).metadata()).width).toBe(1024);

    // The status went from "checking" to "queued" to done; the buttons came after the album.
    await fake.waitFor(() => status.text?.startsWith('✅'), 5_000, 'status done');
    expect(status.history![0]).toMatch(/checking/);
    expect(status.history!.some((t) => /Film noir style: (queued — position \d+|in progress), about \d+ s/.test(t))).toBe(true);
    const star2 = await fake.waitFor(() => fake.button(chat.id, '⭐2'), 5_000, '⭐2 button');
    expect(star2.message.text).toMatch(/Here are your portraits \(Film noir\)/);
    expect(star2.message.text).toContain('react ❤');
    const labels = star2.message.reply_markup!.inline_keyboard.flat().map((b) => b.text);
    expect(labels).toEqual(['⭐1', '⭐2', '⭐3', '⭐4', '🔄 Again', '👎 Not them']);

    // The album's photos are recorded against their results, so a reaction can find them.
    const [portraitJob] = await jobRows(h);
    const results = await eventually(async () => {
      const rows = await resultsOfJob(h.t.app.database.db, portraitJob!.id);
      return rows.every((r) => r.platformMessageId) ? rows : undefined; // recorded once the delivery returns
    });
    expect(results.map((r) => r.platformMessageId)).toEqual(album.map((m) => `tg:${chat.id}:${m.message_id}`));

    // ⭐2: the 8K file of variant 2, as a document with the provenance caption.
    fake.pressButton({ from: ada, message: star2.message, data: star2.data });
    const document = await fake.waitFor(() => fake.sentIn(chat.id).find((m) => m.document), 15_000, '8K document');
    expect(fake.callsOf('answerCallbackQuery').length).toBeGreaterThanOrEqual(2);
    const big = await sharp(document.uploaded!).metadata();
    expect(Math.max(big.width!, big.height!)).toBe(7680);
    expect(document.caption).toContain('Your 8K portrait');
    expect(document.caption).toContain('AI-generated');
    const upscaleJob = (await jobRows(h)).find((j) => j.kind === 'upscale')!;
    expect(upscaleJob.inputs).toEqual([results[1]!.artifactKey]);

    // ❤ on the first photo of the album: variant 1 in 8K.
    fake.react({ from: ada, message: album[0]!, emoji: "❤" });
    const second = await fake.waitFor(() => fake.sentIn(chat.id).filter((m) => m.document)[1], 15_000, 'second 8K document');
    expect(second.reply_to_message?.message_id).toBe(album[0]!.message_id);
    const upscales = (await jobRows(h)).filter((j) => j.kind === 'upscale');
    expect(upscales.map((j) => j.inputs[0]).sort()).toEqual([results[0]!.artifactKey, results[1]!.artifactKey].sort());

    // 4 + 2 + 2 credits: today's 8 free ones are spent.
    fake.pressButton({ from: ada, message: star2.message, data: star2.data.replace(results[1]!.id, results[2]!.id) });
    await fake.waitFor(() => fake.sentIn(chat.id).find((m) => m.text?.includes('That needs 2 credits and you have 0')), 5_000, 'no credits');

    // The token is in no log line and no job row.
    const secretHalf = fake.token.split(':')[1]!;
    expect(h.logs()).not.toContain(secretHalf);
    expect(JSON.stringify(await jobRows(h))).not.toContain(secretHalf);
  });

  it('an album of 3 photos, captioned on the middle one, makes one job from all three', async () => {
    const { fake } = h;
    const chat = privateChat(ada);
    await agreeToTerms(fake, ada);
    const photo = await astronaut();
    const parts: FakeMessage[] = [];
    for (const caption of [undefined, '/portrait watercolour', undefined]) {
      parts.push((await fake.userSends({ chat, from: ada, photo, caption, mediaGroupId: 'album-1' })).message);
    }
    const album = await fake.waitFor(() => {
      const photos = fake.sentIn(chat.id).filter((m) => m.media_group_id);
      return photos.length === 4 ? photos : undefined;
    }, 15_000, 'album of 4');
    expect(album[0]!.reply_to_message?.message_id).toBe(parts[1]!.message_id);
    const jobs = await jobRows(h);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.inputs).toHaveLength(3);
    expect(fake.sentIn(chat.id).filter((m) => m.history?.[0]?.startsWith('📥'))).toHaveLength(1);
    expect(fake.sentIn(chat.id).find((m) => m.history?.[0]?.startsWith('📥'))!.history![0]).toContain('3 photos');
  });
});
