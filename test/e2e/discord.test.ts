/**
 * The Discord front-end end to end: the real discord.js client against a fake Discord on loopback
 * (REST, gateway, CDN), the real command layer, queue, workers, Postgres and Redis.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { registerDiscordCommands } from '../../src/bots/discord/index.js';
import type { Config } from '../../src/config.js';
import type { GpuBackend } from '../../src/gpu/backend.js';
import { imageInfo, resizeToLongEdge } from '../../src/images/index.js';
import { discordHarness, type DiscordHarness } from '../support/discord-harness.js';
import { OPTION, type FakeAttachment, type FakeDiscord, type FakeInteraction, type FakeMessage, type FakeUser } from '../support/fake-discord.js';

const astronaut = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));
const MiB = 1024 * 1024;

/**
 * A quick stand-in GPU (the adapter is under test, not the models): portraits are resized copies
 * of the photos, the 8K step a plain lanczos resize to 7680 px. A gate holds jobs back, so a token
 * can expire first.
 */
function testBackend() {
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  const backend: GpuBackend = {
    name: 'test',
    async run(task) {
      await gate;
      if (task.kind === 'upscale') return { images: [await resizeToLongEdge(task.image, task.targetLongEdge)], model: 'test/lanczos', gpuSeconds: 0, costUsd: 0 };
      const photos = task.kind === 'portrait' ? task.photos : [task.photo];
      const count = task.kind === 'portrait' ? task.variants : 1;
      const images = await Promise.all(Array.from({ length: count }, (_, i) => resizeToLongEdge(photos[i % photos.length]!, 640 + 32 * i)));
      return { images, model: 'test/resize', gpuSeconds: 0, costUsd: 0 };
    },
  };
  return {
    backend,
    hold: () => (gate = new Promise((resolve) => (open = resolve))),
    release: () => open(),
  };
}

const customIds = (message: FakeMessage) =>
  (message.components as Array<{ components: Array<{ label: string; custom_id: string }> }>).flatMap((row) => row.components.map((c) => ({ label: c.label, id: c.custom_id })));

// Generous waits: these tests render real local portraits, and CI runs every file at once on two cores.
describe('Discord front-end, end to end against a fake Discord', { timeout: 90_000 }, () => {
  let harness: DiscordHarness;
  let fake: FakeDiscord;
  let app: App;
  let config: Config;
  let gpu: ReturnType<typeof testBackend>;

  beforeAll(async () => {
    gpu = testBackend();
    harness = await discordHarness({ env: () => ({ GPU_BACKEND: 'local', FREE_DAILY_CREDITS: '40', MAX_ACTIVE_JOBS_PER_USER: '4' }), backend: gpu.backend });
    fake = harness.fake;
    ({ app, config } = harness.t);
  });
  afterAll(() => harness.cleanup());

  const photos = (n: number) => Array.from({ length: n }, (_, i) => fake.attachment(astronaut, `me-${i + 1}.jpg`));

  function portrait(from: FakeUser, attachments: FakeAttachment[], extra: Array<{ name: string; type: number; value: string }> = [], where?: { channelId?: string }): FakeInteraction {
    return fake.slash(
      'portrait',
      [{ name: 'style', type: OPTION.string, value: 'studio' }, ...attachments.map((a, i) => ({ name: `photo${i + 1}`, type: OPTION.attachment, value: a.id })), ...extra],
      { from, attachments, where },
    );
  }

  /** Accepts the terms the way a person does: the consent card's "I agree". */
  async function agree(from: FakeUser): Promise<void> {
    const ix = fake.slash('portrait', [{ name: 'style', type: OPTION.string, value: 'studio' }], { from });
    const card = await fake.waitFor(() => (ix.original?.content.includes('Before we start') ? ix.original : undefined), 10_000, 'consent card');
    const agreeButton = customIds(card).find((b) => b.label === 'I agree')!;
    fake.press(card, agreeButton.id, from);
    await fake.waitFor(() => card.content.startsWith('Thank you'), 10_000, 'consent recorded');
  }

  const resultOf = (ix: FakeInteraction, count = 4, timeoutMs = 30_000) =>
    fake.waitFor(() => ix.followUps.find((m) => m.attachments.length === count), timeoutMs, `${count} images for ${ix.id}`);

  const jobsFor = async (user: FakeUser) =>
    (
      await app.database.pool.query<{ id: string; kind: string; status: string; idempotency_key: string }>(
        `select j.id, j.kind, j.status, j.idempotency_key from jobs j join identities i on i.account_id = j.account_id
         where i.platform = 'discord' and i.platform_user_id = $1 order by j.created_at`,
        [user.id],
      )
    ).rows;

  it('connects with only the intents the features need, heartbeats, and registers commands only when asked', async () => {
    // Guilds | GuildMessageReactions | DirectMessages | DirectMessageReactions: nothing privileged.
    expect(fake.identifies).toEqual([{ shard: [0, 1], intents: (1 << 0) | (1 << 10) | (1 << 12) | (1 << 13) }]);
    await fake.waitFor(() => fake.heartbeats >= 1, 5_000, 'a heartbeat');
    expect(fake.registrations).toHaveLength(0); // start-up registers nothing

    const global = await registerDiscordCommands(config, app.styles);
    expect(global).toMatchObject({ scope: 'global', applicationId: fake.applicationId });
    expect(global.commands).toEqual(['portrait', 'restore', 'styles', 'credits', 'history', 'cancel', 'forget', 'link', 'help', 'admin']);
    const guild = await registerDiscordCommands({ discord: { ...config.discord!, applicationId: fake.applicationId, guildId: fake.guildId } }, app.styles);
    expect(guild).toMatchObject({ scope: 'guild', guildId: fake.guildId });
    const [registered] = fake.registrations;
    const portraitCommand = registered!.commands.find((c) => c.name === 'portrait') as { options: Array<{ name: string; required?: boolean }> };
    expect(portraitCommand.options.map((o) => `${o.name}${o.required ? '*' : ''}`)).toEqual(['style*', 'photo1*', 'photo2', 'photo3', 'photo4', 'subject', 'prompt']);
    expect(registered!.commands.find((c) => c.name === 'admin')).toMatchObject({ default_member_permissions: '0' });
  });

  it('a first /portrait with a photo waits behind the terms and runs, once, when the person agrees', async () => {
    const kim = fake.user('kim');
    const ix = portrait(kim, photos(1));
    const card = await fake.waitFor(() => (ix.original?.content.includes('Before we start') ? ix.original : undefined), 10_000, 'consent card');
    expect(await jobsFor(kim)).toEqual([]);
    const agreeButton = customIds(card).find((b) => b.label === 'I agree')!;
    const press = fake.press(card, agreeButton.id, kim);
    const result = await resultOf(press);
    expect(result.content).toContain('Here are your portraits');
    // Pressed again (a slow thumb): nothing more is made.
    fake.press(card, agreeButton.id, kim);
    await new Promise((r) => setTimeout(r, 400));
    const jobs = await jobsFor(kim);
    expect(jobs).toEqual([expect.objectContaining({ kind: 'portrait', status: 'succeeded', idempotency_key: `discord:${ix.id}` })]);
  });

  it('/portrait with two photos: deferred at once, queued, 4 images; the requester’s 2️⃣ makes an 8K file, another user’s 2️⃣ nothing', async () => {
    const ada = fake.user('ada');
    const bob = fake.user('bob');
    await agree(ada);

    const ix = portrait(ada, photos(2));
    // Acknowledged first: a deferred, ephemeral reply well within Discord's 3 seconds.
    const ack = await fake.waitFor(() => ix.callbacks[0], 3_000, 'acknowledgement');
    expect(ack).toMatchObject({ type: 5, flags: 64, status: 204 });
    expect(ack.at - ix.dispatchedAt).toBeLessThan(3_000);
    await fake.waitFor(() => /queued — position \d+|in progress|Making your portraits|Done/.test(ix.original?.content ?? ''), 10_000, 'queued status');

    const result = await resultOf(ix);
    expect(result.flags & 64).toBe(0); // results are public
    expect(result.content).toContain('Here are your portraits');
    expect(result.content).toContain('AI-generated');
    expect(customIds(result).map((b) => b.label)).toEqual(['U1', 'U2', 'U3', 'U4', '🔄 Again', '👎 Not them']);
    expect(customIds(result).every((b) => b.id.endsWith(`|${ada.id}`))).toBe(true);
    await fake.waitFor(() => result.reactions.length === 4, 5_000, 'pick reactions');
    expect(result.reactions).toEqual(['1️⃣', '2️⃣', '3️⃣', '4️⃣']);
    await fake.waitFor(() => ix.original?.content.startsWith('✅ Done'), 5_000, 'status says done');

    // Someone else's reaction: nothing at all.
    const before = fake.messagesIn(fake.channelId).length;
    fake.react(result, '2️⃣', bob);
    await new Promise((r) => setTimeout(r, 400));
    expect(fake.messagesIn(fake.channelId)).toHaveLength(before);
    expect((await jobsFor(bob)).length).toBe(0);

    // The requester's reaction: a status message, then the 8K file as a channel message (no interaction to follow up).
    fake.react(result, '2️⃣', ada);
    const file = await fake.waitFor(
      () => fake.messagesIn(fake.channelId).find((m) => m.via.kind === 'channel' && m.attachments.length === 1),
      30_000,
      '8K file',
    );
    expect(file.content).toContain(`<@${ada.id}>`);
    expect(file.content).toContain('8K');
    const bytes = [...file.files.values()][0]!;
    expect(bytes.length).toBeLessThanOrEqual(10 * MiB);
    const info = await imageInfo(bytes);
    expect(Math.max(info.width, info.height)).toBe(7680);
    const status = fake.messagesIn(fake.channelId).find((m) => m.via.kind === 'channel' && m.attachments.length === 0 && m.history[0] === '⏳ One moment…')!;
    await fake.waitFor(() => status.content.startsWith('✅ Done'), 5_000, 'status says done');
    expect(status.history.some((h) => /Making the 8K version of portrait 2/.test(h))).toBe(true);
    const upscales = (await jobsFor(ada)).filter((j) => j.kind === 'upscale');
    expect(upscales).toHaveLength(1);
  });

  it('button U3 makes the 8K file, fitted to the interaction’s upload limit; another user’s press gets an ephemeral notice', async () => {
    const cleo = fake.user('cleo');
    const dan = fake.user('dan');
    await agree(cleo);
    const ix = portrait(cleo, photos(1));
    const result = await resultOf(ix);
    const u3 = customIds(result).find((b) => b.label === 'U3')!;

    const intruder = fake.press(result, u3.id, dan);
    await fake.waitFor(() => intruder.original, 3_000, 'notice');
    expect(intruder.callbacks[0]).toMatchObject({ type: 4, flags: 64 });
    expect(intruder.original!.content).toMatch(/Only the person who asked/);

    // A small limit, so the 8K file must be re-encoded to fit (the fake refuses anything larger with 413).
    const press = fake.press(result, u3.id, cleo, 2 * MiB);
    expect(await fake.waitFor(() => press.callbacks[0], 3_000)).toMatchObject({ type: 5, flags: 64 });
    const file = await resultOf(press, 1);
    const bytes = [...file.files.values()][0]!;
    expect(bytes.length).toBeLessThanOrEqual(2 * MiB);
    expect(Math.max((await imageInfo(bytes)).width, (await imageInfo(bytes)).height)).toBe(7680);
    expect((await jobsFor(dan)).length).toBe(0);
  });

  it('a bad attachment gets an ephemeral, friendly error, and nothing is charged', async () => {
    const eve = fake.user('eve');
    await agree(eve);
    const ix = portrait(eve, [fake.attachment(Buffer.from('this is not a photo'), 'notes.txt', 'text/plain')]);
    await fake.waitFor(() => ix.original?.content.includes("isn't a photo I can read"), 10_000, 'error reply');
    expect(ix.callbacks[0]).toMatchObject({ type: 5, flags: 64 });
    expect(ix.original!.content).toMatch(/^Photo 1 isn't a photo I can read/);

    // An attachment on a host that is not Discord's CDN is never fetched.
    const foreign = { ...fake.attachment(astronaut), url: 'https://example.com/me.jpg' };
    const ix2 = portrait(eve, [foreign]);
    await fake.waitFor(() => ix2.original?.content.includes('damaged or incomplete'), 10_000, 'refused host');

    expect(await jobsFor(eve)).toEqual([]);
    const { rows } = await app.database.pool.query(
      `select count(*)::int as n from credit_ledger l join identities i on i.account_id = l.account_id where i.platform_user_id = $1 and l.reason <> 'free'`,
      [eve.id],
    );
    expect(rows[0]).toEqual({ n: 0 });
  });

  it('a replayed interaction makes one job and one result', async () => {
    const fay = fake.user('fay');
    await agree(fay);
    const ix = portrait(fay, photos(1));
    fake.replay(ix);
    await resultOf(ix);
    await new Promise((r) => setTimeout(r, 300));
    expect(ix.callbacks.map((c) => c.status)).toEqual([204, 400]);
    expect((await jobsFor(fay)).map((j) => j.idempotency_key)).toEqual([`discord:${ix.id}`]);
    expect(ix.followUps.filter((m) => m.attachments.length > 0)).toHaveLength(1);
  });

  it('after the token’s 15 minutes the results come as a channel message, or a DM where the channel is closed', async () => {
    const gus = fake.user('gus');
    await agree(gus);
    gpu.hold();
    try {
      const inChannel = portrait(gus, photos(1));
      await fake.waitFor(() => /queued — position|in progress/.test(inChannel.original?.content ?? ''), 10_000, 'queued');
      fake.closeChannel(fake.otherChannelId);
      const closed = portrait(gus, photos(1), [], { channelId: fake.otherChannelId });
      await fake.waitFor(() => /queued — position|in progress/.test(closed.original?.content ?? ''), 10_000, 'queued');
      fake.expire(inChannel);
      fake.expire(closed);
    } finally {
      gpu.release();
    }
    const posted = await fake.waitFor(() => fake.messagesIn(fake.channelId).find((m) => m.via.kind === 'channel' && m.attachments.length === 4 && m.content.includes(`<@${gus.id}>`)), 30_000, 'channel message');
    expect(posted.content).toContain('Here are your portraits');
    await fake.waitFor(() => posted.reactions.length === 4, 5_000, 'pick reactions');
    const dm = await fake.waitFor(() => fake.messagesIn(fake.dmChannelOf(gus.id)).find((m) => m.attachments.length === 4), 30_000, 'DM');
    expect(dm.content).toContain('Here are your portraits');
  });

  it('waits out a 429 on the follow-up and posts the result once', async () => {
    const hal = fake.user('hal');
    await agree(hal);
    const ix = portrait(hal, photos(1));
    fake.rateLimit('POST', new RegExp(`^/webhooks/\\d+/${ix.token}$`), 400);
    await resultOf(ix);
    const posts = fake.requests.filter((r) => r.method === 'POST' && /^\/api\/v10\/webhooks\/\d+\/[^/]+$/.test(r.path) && r.path.includes(ix.token));
    expect(posts.map((r) => r.status)).toEqual([429, 200]);
    expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(390);
    expect(ix.followUps.filter((m) => m.attachments.length === 4)).toHaveLength(1);
  });

  it('memorial portraits are sent privately; ❌ by the requester deletes a result; 👎 re-rolls and refunds once', async () => {
    const ivy = fake.user('ivy');
    await agree(ivy);
    const memorial = portrait(ivy, photos(1), [{ name: 'subject', type: OPTION.string, value: 'memorial' }]);
    const privateResult = await resultOf(memorial);
    expect(privateResult.flags & 64).toBe(64);
    expect(privateResult.content).toContain('not an original photograph');
    expect(privateResult.reactions).toEqual([]);

    const ix = portrait(ivy, photos(1));
    const result = await resultOf(ix);
    await fake.waitFor(() => result.reactions.length === 4, 5_000);
    fake.react(result, '👎', ivy);
    const reroll = await fake.waitFor(
      () => fake.messagesIn(fake.channelId).find((m) => m.via.kind === 'channel' && m.attachments.length === 4 && m.content.includes(`<@${ivy.id}>`)),
      30_000,
      're-rolled set',
    );
    const status = fake.messagesIn(fake.channelId).find((m) => m.history.some((h) => /The 4 credits for the previous set were refunded/.test(h)));
    expect(status).toBeDefined();
    const { rows } = await app.database.pool.query(`select reason, delta from credit_ledger where job_id = (select id from jobs where idempotency_key = $1) order by id`, [`discord:${ix.id}`]);
    expect(rows.map((r: { reason: string }) => r.reason)).toContain('refund');

    fake.react(reroll, '❌', fake.user('bob')); // not theirs: stays
    fake.react(result, '❌', ivy);
    await fake.waitFor(() => result.deleted, 5_000, 'deleted');
    expect(reroll.deleted).toBe(false);
  });

  it('/restore sends the original and the restored photo side by side', async () => {
    const joy = fake.user('joy');
    await agree(joy);
    const [photo] = photos(1);
    const ix = fake.slash(
      'restore',
      [
        { name: 'photo', type: OPTION.attachment, value: photo!.id },
        { name: 'colorize', type: OPTION.boolean, value: true },
      ],
      { from: joy, attachments: [photo!] },
    );
    await fake.waitFor(() => /Restoring and colorizing your photo/.test(ix.original?.content ?? ''), 10_000, 'queued');
    const result = await resultOf(ix, 2);
    expect(result.attachments.map((a) => a.filename)).toEqual(['original.jpg', expect.stringMatching(/^restored-/)]);
    expect(result.content).toContain('not an original photograph');
    expect(result.components).toEqual([]);
    expect(result.reactions).toEqual([]);
  });

  it('never writes the bot token or an interaction token to the logs, and keeps interaction tokens out of Postgres', async () => {
    const text = harness.logs();
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain(fake.token);
    const { rows } = await app.database.pool.query<{ row: string }>(`select row_to_json(j)::text as row from jobs j`);
    expect(rows.length).toBeGreaterThan(0);
    for (const ix of fake.interactions.values()) {
      expect(text).not.toContain(ix.token);
      for (const { row } of rows) expect(row).not.toContain(ix.token);
    }
  });
});
