import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ada, privateChat, telegramHarness, type TelegramHarness } from '../support/fake-telegram.js';
import { agree } from '../support/test-app.js';

const astronaut = () => readFile(new URL('../../samples/astronaut.jpg', import.meta.url));

/** Posts an update to the bot's webhook the way Telegram does. */
function post(h: TelegramHarness, update: unknown, secret: string | null = h.webhookSecret!): Promise<Response> {
  return fetch(h.webhookUrl!, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret !== null ? { 'x-telegram-bot-api-secret-token': secret } : {}) },
    body: JSON.stringify(update),
  });
}

describe('Telegram webhook mode', () => {
  let h: TelegramHarness;
  beforeEach(async () => {
    // A GPU job that takes 1.5 s: long enough for the "working on it" notice and the chat action.
    h = await telegramHarness({ webhook: true, env: { GPU_BACKEND: 'instant', INSTANT_BACKEND_DELAY_MS: '1500' } });
  });
  afterEach(() => h.cleanup());

  it('registers the webhook with its secret, and refuses updates without the right secret', async () => {
    const { fake } = h;
    const [registered] = fake.callsOf('setWebhook');
    expect(registered?.params).toMatchObject({
      url: h.webhookUrl,
      secret_token: h.webhookSecret,
      allowed_updates: ['message', 'callback_query', 'message_reaction'],
    });
    expect(fake.callsOf('getUpdates')).toHaveLength(0);

    const chat = privateChat(ada);
    const { updateId } = await fake.userSends({ chat, from: ada, text: '/help' });
    const update = fake.takeUpdate(updateId);
    expect((await post(h, update, 'wrong-secret')).status).toBe(401);
    expect((await post(h, update, null)).status).toBe(401);
    expect(fake.callsOf('sendMessage')).toHaveLength(0);

    expect((await post(h, update)).status).toBe(200);
    expect(fake.sentIn(chat.id).map((m) => m.text)).toEqual([expect.stringContaining('/portrait [style] [prompt]')]);
    // Telegram sending the same update again (it did not see our answer) changes nothing.
    expect((await post(h, update)).status).toBe(200);
    expect(fake.callsOf('sendMessage')).toHaveLength(1);

    const bad = await fetch(h.webhookUrl!, { method: 'POST', headers: { 'x-telegram-bot-api-secret-token': h.webhookSecret! }, body: 'not json' });
    expect(bad.status).toBe(400);
    expect((await fetch(h.webhookUrl!)).status).toBe(405);
    expect((await fetch(new URL('/elsewhere', h.webhookUrl!))).status).toBe(404);
  });

  it('a slow job: "queued", then "working" with the upload_photo chat action, then done', async () => {
    const { fake } = h;
    const chat = privateChat(ada);
    await agree(h.t.app, String(ada.id));
    const { message, updateId } = await fake.userSends({ chat, from: ada, photo: await astronaut(), caption: '/portrait' });
    expect((await post(h, fake.takeUpdate(updateId))).status).toBe(200);

    const status = await fake.waitFor(() => fake.sentIn(chat.id).find((m) => m.reply_to_message?.message_id === message.message_id), 2_000, 'status');
    await fake.waitFor(() => status.text === '✅ Done — the results are below.', 10_000, 'done');
    expect(status.history).toEqual([
      expect.stringMatching(/checking/),
      expect.stringMatching(/^Making 4 portraits in the .* style: (queued — position 1|in progress), about \d+ s\.$/),
      '⏳ Making your portraits…',
      '✅ Done — the results are below.',
    ]);
    const actions = fake.callsOf('sendChatAction');
    expect(actions.length).toBeGreaterThanOrEqual(2); // renewed while the job ran
    expect(actions.every((c) => c.params.action === 'upload_photo' && c.params.chat_id === chat.id)).toBe(true);
    expect(fake.sentIn(chat.id).filter((m) => m.media_group_id)).toHaveLength(4);
  });
});
