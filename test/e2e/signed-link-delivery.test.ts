/**
 * End to end: an 8K result that no chat upload can take arrives as a signed link of the bots
 * process's HTTP server, and that link downloads exactly the stored file. Real grammY and discord.js
 * front-ends against the fake platforms, the real queue, workers, Postgres and Redis, and the
 * operations routes as the service registers them. "Cannot fit" is made honestly small: Telegram's
 * document limit through the front-end's `documentLimit` tuning (what a local Bot API server would
 * change), Discord's through the interaction's own `attachment_size_limit`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { createDiscordFrontend, type DiscordFrontend } from '../../src/bots/discord/index.js';
import { createTelegramFrontend, type TelegramFrontend } from '../../src/bots/telegram/telegram.frontend.js';
import { configSecrets, loadConfig } from '../../src/config.js';
import { resultsOfJob } from '../../src/db/results.repository.js';
import type { GpuBackend } from '../../src/gpu/backend.js';
import { registerOperations, type Operations } from '../../src/http/operations.js';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { imageInfo, resizeToLongEdge } from '../../src/images/index.js';
import { createProducerConnection } from '../../src/jobs/redis.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { createTestDatabase } from '../support/databases.js';
import { OPTION, startFakeDiscord, type FakeDiscord, type FakeMessage } from '../support/fake-discord.js';
import { ada, agreeToTerms, FakeTelegram, privateChat } from '../support/fake-telegram.js';
import { createTestApp, REDIS_URL, type TestApp } from '../support/test-app.js';

const astronaut = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));
const LINK = /(http:\/\/127\.0\.0\.1:\d+\/files\/[\w-]+\.[\w-]+)/;

/** A quick stand-in GPU (the delivery is under test, not the models): resized copies, and a true 7680 px upscale. */
const testBackend: GpuBackend = {
  name: 'test',
  async run(task) {
    if (task.kind === 'upscale') return { images: [await resizeToLongEdge(task.image, task.targetLongEdge)], model: 'test/lanczos', gpuSeconds: 0, costUsd: 0 };
    const photo = task.kind === 'portrait' ? task.photos[0]! : task.photo;
    const count = task.kind === 'portrait' ? task.variants : 1;
    return { images: await Promise.all(Array.from({ length: count }, (_, i) => resizeToLongEdge(photo, 640 + 32 * i))), model: 'test/resize', gpuSeconds: 0, costUsd: 0 };
  },
};

function capturingLogger(): { logger: Logger; text: () => string } {
  const lines: string[] = [];
  const destination = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
  return { logger: createLogger({ level: 'debug', destination }), text: () => lines.join('') };
}

/** The bots process's HTTP server with the operations routes; listening first, so PUBLIC_URL can name its port. */
async function listeningServer(logger: Logger): Promise<{ http: HttpServer; publicUrl: string }> {
  const http = createHttpServer({ logger });
  const port = await http.listen(0, '127.0.0.1');
  return { http, publicUrl: `http://127.0.0.1:${port}` };
}

/** The 8K result of the only upscale job of the app, as stored. */
async function storedEightK(app: App): Promise<Buffer> {
  const { rows } = await app.database.pool.query<{ id: string }>(`select id from jobs where kind = 'upscale'`);
  expect(rows).toHaveLength(1);
  const [result] = await resultsOfJob(app.database.db, rows[0]!.id);
  return app.store.get(result!.artifactKey);
}

/** Downloads a signed link and checks it is an attachment of the exact bytes. */
async function download(url: string): Promise<Buffer> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('image/jpeg');
  expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="[\w.-]+\.jpg"/);
  return Buffer.from(await response.arrayBuffer());
}

describe('Telegram: the 8K document that cannot fit comes as a signed link', { timeout: 90_000 }, () => {
  let fake: FakeTelegram;
  let t: TestApp;
  let frontend: TelegramFrontend;
  let http: HttpServer;
  let ops: Operations;
  let redis: Redis;
  const logs = capturingLogger();

  beforeAll(async () => {
    fake = await new FakeTelegram().start();
    const server = await listeningServer(logs.logger);
    http = server.http;
    t = await createTestApp({ TELEGRAM_BOT_TOKEN: fake.token, TELEGRAM_API_ROOT: fake.url, PUBLIC_URL: server.publicUrl });
    redis = createProducerConnection(t.config.redisUrl);
    ops = registerOperations({ public: http, operations: http }, { app: { ...t.app, logger: logs.logger }, redis });
    frontend = createTelegramFrontend({
      app: t.app,
      config: t.config,
      logger: logs.logger,
      links: ops.links,
      // 100 kB: no JPEG quality gets a 7680 px portrait under it.
      tuning: { albumQuietMs: 250, pollTimeoutSeconds: 1, chatActionEveryMs: 200, documentLimit: 100_000 },
    });
    await frontend.start();
    t.app.startGpuWorker(testBackend);
    t.app.startDeliveryWorker(new Map([['telegram', frontend.deliverer]]), ops.deliveryObserver);
  });
  afterAll(async () => {
    await frontend.stop();
    await t.cleanup();
    await frontend.close();
    await http.close();
    await ops.close();
    redis.disconnect();
    await fake.close();
  });

  it('⭐2 → no document, a message with a link that downloads the stored 8K file', async () => {
    const chat = privateChat(ada);
    await agreeToTerms(fake, ada);
    await fake.userSends({ chat, from: ada, photo: astronaut, caption: '/portrait studio' });
    const star2 = await fake.waitFor(() => fake.button(chat.id, '⭐2'), 30_000, '⭐2 button');
    fake.pressButton({ from: ada, message: star2.message, data: star2.data });

    const notice = await fake.waitFor(() => fake.sentIn(chat.id).find((m) => m.text && LINK.test(m.text)), 30_000, 'link message');
    expect(fake.sentIn(chat.id).filter((m) => m.document)).toHaveLength(0);
    expect(notice.text).toMatch(/The full file is \d+\.\d MB, more than Telegram lets a bot send here\. Download it \(the link expires\)/);
    expect(notice.text).toContain('AI-generated'); // the provenance caption travels with the link

    const stored = await storedEightK(t.app);
    const bytes = await download(LINK.exec(notice.text!)![1]!);
    expect(bytes.equals(stored)).toBe(true);
    const info = await imageInfo(bytes);
    expect(Math.max(info.width, info.height)).toBe(7680);

    const secret = await redis.get(`${t.config.queuePrefix}:http:link-secret`);
    expect(secret).toBeTruthy();
    expect(logs.text()).not.toContain(secret);
    expect(logs.text()).not.toContain(fake.token.split(':')[1]!);
  });
});

describe('Discord: the 8K upload that cannot fit comes as a signed link', { timeout: 90_000 }, () => {
  let fake: FakeDiscord;
  let app: App;
  let frontend: DiscordFrontend;
  let http: HttpServer;
  let ops: Operations;
  let redis: Redis;
  let cleanup: () => Promise<void>;
  const logs = capturingLogger();

  beforeAll(async () => {
    fake = await startFakeDiscord({ heartbeatIntervalMs: 2_000 });
    const server = await listeningServer(logs.logger);
    http = server.http;
    const database = await createTestDatabase();
    const dataDir = await mkdtemp(join(tmpdir(), 'likeness-links-'));
    const config = loadConfig({
      DATABASE_URL: database.url,
      REDIS_URL,
      QUEUE_PREFIX: `test-${randomBytes(5).toString('hex')}`,
      DATA_DIR: dataDir,
      GPU_RETRY_BACKOFF_MS: '50',
      DISCORD_TOKEN: fake.token,
      DISCORD_API_BASE: fake.apiBase,
      ATTACHMENT_HOSTS: fake.cdnHost,
      PUBLIC_URL: server.publicUrl,
      LINK_SECRET: randomBytes(32).toString('base64url'),
    });
    const logger = createLogger({ level: 'debug', secrets: configSecrets(config), destination: new Writable({ write: (c, _e, done) => done() }) });
    app = createApp(config, logger);
    redis = createProducerConnection(config.redisUrl);
    ops = registerOperations({ public: http, operations: http }, { app: { ...app, logger: logs.logger }, redis });
    frontend = createDiscordFrontend({ app, config, logger: logs.logger, redis, links: ops.links, tuning: { allowPrivateAttachmentAddresses: true } });
    await frontend.start();
    app.startGpuWorker(testBackend);
    app.startDeliveryWorker(new Map([['discord', frontend.deliverer]]), ops.deliveryObserver);
    cleanup = async () => {
      await frontend.stop();
      await app.close();
      await http.close();
      await ops.close();
      await fake.close();
      const keys = await redis.keys(`${config.queuePrefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    };
  });
  afterAll(() => cleanup());

  const buttons = (message: FakeMessage) =>
    (message.components as Array<{ components: Array<{ label: string; custom_id: string }> }>).flatMap((row) => row.components);

  it('U1 from an interaction that takes 300 KiB → no file, a link that downloads the stored 8K file', async () => {
    const cleo = fake.user('cleo');
    const consent = fake.slash('portrait', [{ name: 'style', type: OPTION.string, value: 'studio' }], { from: cleo });
    const card = await fake.waitFor(() => (consent.original?.content.includes('Before we start') ? consent.original : undefined), 10_000, 'consent card');
    fake.press(card, buttons(card).find((b) => b.label === 'I agree')!.custom_id, cleo);
    await fake.waitFor(() => card.content.startsWith('Thank you'), 10_000, 'consent recorded');

    const photo = fake.attachment(astronaut, 'me.jpg');
    const ix = fake.slash('portrait', [{ name: 'style', type: OPTION.string, value: 'studio' }, { name: 'photo1', type: OPTION.attachment, value: photo.id }], { from: cleo, attachments: [photo] });
    const result = await fake.waitFor(() => ix.followUps.find((m) => m.attachments.length === 4), 30_000, '4 portraits');

    const press = fake.press(result, buttons(result).find((b) => b.label === 'U1')!.custom_id, cleo, 300 * 1024);
    const message = await fake.waitFor(() => press.followUps.find((m) => LINK.test(m.content)), 30_000, 'link follow-up');
    expect(message.attachments).toHaveLength(0);
    expect(message.content).toMatch(/The full file is \d+\.\d MB, more than Discord lets a bot send here\. Download it \(the link expires\)/);

    const stored = await storedEightK(app);
    expect(stored.byteLength).toBeGreaterThan(300 * 1024);
    const bytes = await download(LINK.exec(message.content)![1]!);
    expect(bytes.equals(stored)).toBe(true);
    expect(logs.text()).not.toContain(app.config.http.linkSecret!);
    expect(logs.text()).not.toContain(fake.token);
  });
});
