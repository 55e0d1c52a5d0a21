/**
 * Issue 21's acceptance test for hostile photos: a hand-built HEIC grid bomb and the 16-bit
 * EXIF-rotated PNG are being checked for attackers while a second person sends /portrait with an
 * ordinary photo. That person must still be acknowledged within 2 s (Discord: the interaction's
 * defer, timed by the fake Discord; Telegram: the first status, "📥 Got your photo…"), and the
 * bots process's real HTTP listener must answer /healthz within 1 s throughout. Real front-ends
 * on loopback fakes, the real command layer, intake gate, Postgres, Redis and HEIC processes.
 */
import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { registerOperations } from '../../src/http/operations.js';
import { heicProcessStats } from '../../src/images/heic-process.js';
import { discordHarness, type DiscordHarness } from '../support/discord-harness.js';
import { OPTION, type FakeInteraction, type FakeUser } from '../support/fake-discord.js';
import { agreeToTerms, privateChat, telegramHarness, type TelegramHarness, type TgUser } from '../support/fake-telegram.js';
import { heicGridBomb, png16BitRotated } from '../support/hostile-images.js';
import { agree } from '../support/test-app.js';

const ACK_LIMIT_MS = 2_000;
const HEALTHZ_LIMIT_MS = 1_000;

const astronaut = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));
/** Issue 21's files: 225 tiles sharing one 30 KB tile (4800 px square), and a 7071 px 16-bit PNG turned by EXIF. */
const heicBomb = heicGridBomb(await readFile(new URL('../fixtures/astronaut.heic', import.meta.url)), 15, 15);
const png16 = await png16BitRotated(7071);

/** `/healthz` asked again and again (each as soon as the last answered) until stopped: every answer's time. */
function probeHealthz(url: string): { stop(): Promise<number[]> } {
  const times: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const response = await fetch(url);
      await response.arrayBuffer();
      expect(response.status).toBe(200);
      times.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return times;
    },
  };
}

/** Waits until a HEIC decoder process is running: the bombs are being checked, not just queued. */
async function whileBombsDecode(): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (heicProcessStats.running === 0) {
    if (Date.now() > deadline) throw new Error('no HEIC decoder started within 20 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The bots process's public HTTP listener with its real routes (`/healthz` among them), on a free port. */
async function healthzListener(app: App, redis: Redis) {
  const http: HttpServer = createHttpServer({ logger: app.logger });
  const ops = registerOperations({ public: http, operations: http }, { app, redis });
  const port = await http.listen(0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}/healthz`,
    async close() {
      await http.close();
      await ops.close();
    },
  };
}

describe('Discord: an ordinary /portrait is acknowledged while bombs are being checked', { timeout: 120_000 }, () => {
  let harness: DiscordHarness;
  let healthz: string;

  beforeAll(async () => {
    harness = await discordHarness({
      extras: async (app, redis) => {
        const listener = await healthzListener(app, redis);
        healthz = listener.url;
        return { close: () => listener.close() };
      },
    });
  });
  afterAll(async () => {
    await harness?.cleanup();
  });

  const portrait = (from: FakeUser, photos: Array<[Buffer, string, string]>): FakeInteraction => {
    const attachments = photos.map(([bytes, name, type]) => harness.fake.attachment(bytes, name, type));
    return harness.fake.slash(
      'portrait',
      [{ name: 'style', type: OPTION.string, value: 'studio' }, ...attachments.map((a, i) => ({ name: `photo${i + 1}`, type: OPTION.attachment, value: a.id }))],
      { from, attachments },
    );
  };
  const answered = (ix: FakeInteraction) => harness.fake.waitFor(() => (ix.original && ix.original.edits > 0 ? ix.original.content : undefined), 60_000, `answer to ${ix.id}`);

  it('acknowledges within 2 s and answers /healthz within 1 s while two HEIC grid bombs and two 16-bit PNGs are checked', async () => {
    const { fake, t } = harness;
    const [mallory, trudy, ada] = [fake.user('mallory'), fake.user('trudy'), fake.user('ada')];
    for (const person of [mallory, trudy, ada]) await agree(t.app, person.id, 'discord');

    const probe = probeHealthz(healthz);
    // Four bomb uploads in two requests; each request is one slot of the intake while its photos are checked.
    const attacks = [
      portrait(mallory, [[heicBomb, 'bomb.heic', 'image/heic'], [png16, 'deep.png', 'image/png']]),
      portrait(trudy, [[png16, 'deep.png', 'image/png'], [heicBomb, 'bomb.heic', 'image/heic']]),
    ];
    await whileBombsDecode();
    const ordinary = portrait(ada, [[astronaut, 'me.jpg', 'image/jpeg']]);
    const ack = await fake.waitFor(() => ordinary.callbacks.find((c) => c.status === 204), 10_000, 'the acknowledgement');
    const ackMs = ack.at - ordinary.dispatchedAt;
    // The test means something only if the bombs were still being checked when she was answered.
    const stillChecking = attacks.some((ix) => !ix.original || ix.original.edits === 0);

    const ordinaryAnswer = await answered(ordinary);
    const attackAnswers = await Promise.all(attacks.map(answered));
    const healthzMs = await probe.stop();

    expect(stillChecking).toBe(true);
    expect(ackMs).toBeLessThan(ACK_LIMIT_MS);
    expect(healthzMs.length).toBeGreaterThan(3);
    expect(Math.max(...healthzMs)).toBeLessThan(HEALTHZ_LIMIT_MS);
    expect(ordinaryAnswer).toMatch(/queued — position|in progress/);
    // Each attack is refused (a 16-bit PNG of 50 MP costs too much), and charged nothing.
    for (const text of attackAnswers) expect(text).toMatch(/takes too much work for me to open/);
  });
});

describe('Telegram: an ordinary /portrait gets its first status while bombs are being checked', { timeout: 120_000 }, () => {
  let harness: TelegramHarness;
  let healthz: { url: string; close(): Promise<void> };
  let redis: Redis;

  beforeAll(async () => {
    harness = await telegramHarness({ workers: false });
    redis = new Redis(harness.t.config.redisUrl);
    healthz = await healthzListener(harness.t.app, redis);
  });
  afterAll(async () => {
    await healthz?.close();
    redis?.disconnect();
    await harness?.cleanup();
  });

  it('posts "📥 Got your photo…" within 2 s and answers /healthz within 1 s while two HEIC grid bombs and a 16-bit PNG are checked', async () => {
    const { fake } = harness;
    const people: TgUser[] = [2001, 2002, 2003, 2004].map((id) => ({ id, is_bot: false, first_name: `P${id}` }));
    const [mallory, trudy, eve, ada] = people as [TgUser, TgUser, TgUser, TgUser];
    for (const person of people) await agreeToTerms(fake, person);

    const probe = probeHealthz(healthz.url);
    await fake.userSends({ chat: privateChat(mallory), from: mallory, caption: '/portrait', document: { bytes: heicBomb, name: 'bomb.heic', mime: 'image/heic' } });
    await fake.userSends({ chat: privateChat(trudy), from: trudy, caption: '/portrait', document: { bytes: heicBomb, name: 'bomb.heic', mime: 'image/heic' } });
    await fake.userSends({ chat: privateChat(eve), from: eve, caption: '/portrait', document: { bytes: png16, name: 'deep.png', mime: 'image/png' } });
    await whileBombsDecode();
    const sentAt = performance.now();
    await fake.userSends({ chat: privateChat(ada), from: ada, caption: '/portrait', photo: astronaut });
    const status = await fake.waitFor(() => fake.sentIn(ada.id).find((m) => m.text?.startsWith('📥 Got your photo')), 10_000, 'the first status');
    const statusMs = performance.now() - sentAt;
    const statusText = status.text; // the same message is edited with the answer later
    const stillChecking = heicProcessStats.running > 0;

    /** The answer to the photo: the status message, once it says more than "checking". */
    const final = (chat: number) =>
      fake.waitFor(() => fake.sentIn(chat).find((m) => m.history?.some((h) => h.startsWith('📥')) && !m.text?.startsWith('📥')), 60_000, `answer in ${chat}`);
    const [adaAnswer, ...attackAnswers] = await Promise.all([ada, mallory, trudy, eve].map((p) => final(p.id)));
    const healthzMs = await probe.stop();

    expect(statusText).toBe('📥 Got your photo, checking it…');
    expect(stillChecking).toBe(true);
    expect(statusMs).toBeLessThan(ACK_LIMIT_MS);
    expect(Math.max(...healthzMs)).toBeLessThan(HEALTHZ_LIMIT_MS);
    expect(adaAnswer!.text).toMatch(/queued — position|in progress/);
    // The bombs decode (in child processes, under their caps) to 4800 px of repeated tiles, faces
    // and all, so they are queued like any photo; the PNG is refused from its header.
    expect(attackAnswers.map((m) => m.text)).toEqual([expect.stringMatching(/queued — position/), expect.stringMatching(/queued — position/), expect.stringMatching(/takes too much work/)]);
  });
});
