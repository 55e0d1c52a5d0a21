/**
 * The Discord deliverer on its own (REST only, no gateway), against the fake Discord: upload
 * limits, spent tokens, resumed retries; and the Redis state that keeps follow-up tokens.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Routes } from 'discord.js';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conversation } from '../../src/bots/core/model.js';
import { info, type Reply } from '../../src/bots/core/reply.js';
import { DONE_TEXT } from '../../src/bots/core/status-text.js';
import { attachmentPolicy } from '../../src/bots/discord/attachments.js';
import { createDiscordRest } from '../../src/bots/discord/discord-client.js';
import { createRedisDiscordState } from '../../src/bots/discord/discord-state.js';
import { createMemoryDiscordState } from '../support/memory-chat-states.js';
import { createDiscordChat } from '../../src/bots/discord/discord-chat.js';
import { createLogger } from '../../src/logger.js';
import type { ArtifactStore } from '../../src/storage/artifact-store.js';
import { createMemoryStore } from '../support/memory-ports.js';
import { startFakeDiscord, type FakeDiscord, type FakeInteraction } from '../support/fake-discord.js';
import { REDIS_URL } from '../support/test-app.js';

describe('Discord deliverer', () => {
  let fake: FakeDiscord;
  let store: ArtifactStore;
  let now = Date.now();
  const state = createMemoryDiscordState(() => now);
  let deliverer: ReturnType<typeof createDiscordChat>;
  /** What the command layer's delivery does with a finished job's pictures: post them, then "done" on the status. */
  async function deliverPictures(conversation: Conversation, reply: Reply, jobId: string): Promise<string[]> {
    const shown: string[] = [];
    await deliverer.postResults(conversation, reply, jobId, async (_index, key) => void shown.push(key));
    await deliverer.status.edit(conversation, info(DONE_TEXT), { stage: 'done', jobId });
    return shown;
  }
  const links = { urlFor: async (key: string) => `https://likeness.example/d/${key}?sig=abc` };

  beforeAll(async () => {
    fake = await startFakeDiscord();
    store = createMemoryStore();
    const rest = createDiscordRest({ token: fake.token, apiBase: fake.apiBase });
    deliverer = createDiscordChat({ rest, store, state, links, policy: attachmentPolicy([]), logger: createLogger({ level: 'silent' }) });
    // A noisy 2400 x 3000 photo: several MB, and no JPEG quality gets it under 64 KB.
    const noisy = await sharp({ create: { width: 2400, height: 3000, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
      .jpeg({ quality: 95 })
      .toBuffer();
    await store.put('results/big.jpg', noisy);
    await store.put('results/small.jpg', await sharp(noisy).resize(400).jpeg({ quality: 80 }).toBuffer());
    // A real photo at 3000 px and quality 98: over 1 MB, and it fits at a lower quality.
    const photo = await sharp(await readFile(new URL('../../samples/astronaut.jpg', import.meta.url))).resize({ width: 3000 }).jpeg({ quality: 98 }).toBuffer();
    await store.put('results/photo.jpg', photo);
  });
  afterAll(() => fake.close());

  /** An interaction the bot has deferred, with its token kept as the front-end keeps it. */
  async function deferred(limit = 10 * 1024 * 1024): Promise<{ ix: FakeInteraction; conversation: Conversation }> {
    const from = fake.user(`u-${randomBytes(3).toString('hex')}`);
    const ix = fake.slash('portrait', [], { from, attachmentSizeLimit: limit }); // no gateway here: only its token is used
    const rest = createDiscordRest({ token: fake.token, apiBase: fake.apiBase });
    await rest.post(Routes.interactionCallback(ix.id, ix.token), { body: { type: 5, data: { flags: 64 } }, auth: false });
    await state.rememberInteraction(ix.id, { applicationId: fake.applicationId, token: ix.token, attachmentSizeLimit: limit }, now + 14 * 60_000);
    return { ix, conversation: { platform: 'discord', chatId: fake.channelId, interactionId: ix.id, userId: from.id } };
  }

  const eightK = (key: string): Reply => ({ text: 'Your 8K portrait.', tone: 'success', images: [{ artifactKey: key, resultId: 'r1', filename: 'likeness-8k.jpg', as: 'document' }] });

  it('edits the deferred reply with progress, and replaces it with a failure', async () => {
    const { ix, conversation } = await deferred();
    await deliverer.status.edit(conversation, info('⏳ Making your portraits…'), { stage: 'progress', jobId: 'job-progress' });
    expect(ix.original!.content).toBe('⏳ Making your portraits…');
    const failure: Reply = { text: 'Something went wrong. Your credits were refunded.', tone: 'error' };
    expect(await deliverer.status.edit(conversation, failure, { stage: 'outcome', jobId: 'job-progress' })).toBe(true);
    expect(ix.original!.content).toMatch(/refunded/);
    expect(ix.followUps).toHaveLength(0);
  });

  it('says so, with a download link, when even the smallest encoding is over the upload limit', async () => {
    const { ix, conversation } = await deferred(300 * 1024);
    const shown = await deliverPictures(conversation, eightK('results/big.jpg'), 'job-too-large');
    const message = ix.followUps[0]!;
    expect(message.attachments).toHaveLength(0);
    expect(message.content).toMatch(/The full file is \d+\.\d MB, more than Discord lets a bot send here\. Download it \(the link expires\): https:\/\/likeness\.example\/d\/results\/big\.jpg/);
    expect(shown).toEqual([`discord:${message.id}`]);
    expect(ix.original!.content).toBe('✅ Done — the results are below.');
  });

  it('re-encodes a file to fit the interaction’s limit', async () => {
    const { ix, conversation } = await deferred(1024 * 1024);
    const original = await store.get('results/photo.jpg');
    await deliverPictures(conversation, eightK('results/photo.jpg'), 'job-fit');
    const file = [...ix.followUps[0]!.files.values()][0]!;
    expect(original.length).toBeGreaterThan(1024 * 1024);
    expect(file.length).toBeLessThanOrEqual(1024 * 1024);
    expect((await sharp(file).metadata()).width).toBe(3000);
  });

  it('posts as the bot, mentioning the requester, once the token’s time is up; a retry does not post twice', async () => {
    const { ix, conversation } = await deferred();
    now += 15 * 60_000;
    const reply: Reply = { text: 'Here are your portraits.', tone: 'success', images: [{ artifactKey: 'results/small.jpg', resultId: 'r2', filename: 'p.jpg', as: 'photo' }], buttons: [[{ label: 'U1', command: 'upscale', target: 'r2' }]] };
    const first = await deliverPictures(conversation, reply, 'job-late');
    const again = await deliverPictures(conversation, reply, 'job-late');
    expect(again).toEqual(first);
    const channel = fake.messagesIn(fake.channelId).filter((m) => m.via.kind === 'channel' && m.content.includes('Here are your portraits.'));
    expect(channel).toHaveLength(1);
    expect(channel[0]!.content.startsWith(`<@${conversation.userId}> `)).toBe(true);
    expect(channel[0]!.reactions).toEqual(['⭐']);
    expect(ix.followUps).toHaveLength(0);
    expect(fake.requests.filter((r) => r.path.includes(ix.token) && r.method !== 'POST').length).toBe(0); // the spent token was not even tried
  });
});

describe('Discord state in Redis', () => {
  let redis: Redis;
  const namespace = `test-${randomBytes(4).toString('hex')}:dc`;
  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${namespace}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('keeps a follow-up token only until it expires, and the rest for longer', async () => {
    const state = createRedisDiscordState(redis, namespace);
    await state.rememberInteraction('1', { applicationId: 'app', token: 'secret-token', attachmentSizeLimit: 1234 }, Date.now() + 150);
    expect(await state.interaction('1')).toEqual({ applicationId: 'app', attachmentSizeLimit: 1234, token: 'secret-token' });
    await new Promise((r) => setTimeout(r, 300));
    expect(await state.interaction('1')).toEqual({ applicationId: 'app', attachmentSizeLimit: 1234, token: undefined });
    await state.rememberInteraction('2', { applicationId: 'app', token: 'late', attachmentSizeLimit: 1 }, Date.now() - 1);
    expect((await state.interaction('2'))?.token).toBeUndefined();
    expect(await state.interaction('3')).toBeUndefined();

    await state.recordDeliveryStep('job', 'message', 'c:m:p');
    expect(await state.deliverySteps('job')).toEqual({ message: 'c:m:p' });
  });
});
