/**
 * Security checks over a real run: Telegram (webhook mode, so its secret is in play) and Discord
 * front-ends against their fakes, the real command layer, queue, workers, Postgres and Redis.
 * After people have asked for portraits and 8K files on both platforms, no bot token and no
 * webhook secret is anywhere it could leak from: the logs, any Redis value under the queue
 * prefix, any row of any table, any stored file. Admin commands are refused to everyone not in
 * ADMIN_IDS, on both platforms. Attachment downloads refuse what they must.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { discordPhotoSource, attachmentPolicy } from '../../src/bots/discord/attachments.js';
import { createDiscordFrontend, type DiscordFrontend } from '../../src/bots/discord/index.js';
import { telegramPhotoSource } from '../../src/bots/telegram/telegram-files.js';
import { createTelegramFrontend, type TelegramFrontend } from '../../src/bots/telegram/telegram.frontend.js';
import { configSecrets, loadConfig, type Config } from '../../src/config.js';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase } from '../support/databases.js';
import { OPTION, startFakeDiscord, type FakeDiscord, type FakeInteraction, type FakeMessage as DiscordMessage, type FakeUser } from '../support/fake-discord.js';
import { ada, bob, FakeTelegram, privateChat, type TgUser } from '../support/fake-telegram.js';
import { REDIS_URL } from '../support/test-app.js';

const astronaut = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));

const customIds = (message: DiscordMessage) =>
  (message.components as Array<{ components: Array<{ label: string; custom_id: string }> }>).flatMap((row) => row.components.map((c) => ({ label: c.label, id: c.custom_id })));

/** Every value under `prefix:*`, whatever its type, as text; with each key's time to live. */
async function redisDump(redis: Redis, prefix: string): Promise<Array<{ key: string; ttlMs: number; text: string }>> {
  const out: Array<{ key: string; ttlMs: number; text: string }> = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      const value =
        type === 'string' ? await redis.get(key)
        : type === 'hash' ? await redis.hgetall(key)
        : type === 'list' ? await redis.lrange(key, 0, -1)
        : type === 'set' ? await redis.smembers(key)
        : type === 'zset' ? await redis.zrange(key, 0, -1, 'WITHSCORES')
        : type === 'stream' ? await redis.xrange(key, '-', '+')
        : `(${type})`;
      out.push({ key, ttlMs: await redis.pttl(key), text: `${key} ${JSON.stringify(value)}` });
    }
  } while (cursor !== '0');
  return out;
}

/** Every row of every table of the public schema, as text, by table. */
async function postgresDump(app: App): Promise<Map<string, string>> {
  const { rows: tables } = await app.database.pool.query<{ name: string }>(`select tablename as name from pg_tables where schemaname = 'public'`);
  const out = new Map<string, string>();
  for (const { name } of tables) {
    const { rows } = await app.database.pool.query(`select * from "${name.replaceAll('"', '""')}"`);
    out.set(name, JSON.stringify(rows));
  }
  return out;
}

async function filesUnder(dir: string): Promise<Array<{ path: string; bytes: Buffer }>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return Promise.all(entries.filter((e) => e.isFile()).map(async (e) => ({ path: join(e.parentPath, e.name), bytes: await readFile(join(e.parentPath, e.name)) })));
}

describe('secrets stay secret, admin stays admin', { timeout: 120_000 }, () => {
  let tg: FakeTelegram;
  let dc: FakeDiscord;
  let http: HttpServer;
  let app: App;
  let config: Config;
  let telegram: TelegramFrontend;
  let discord: DiscordFrontend;
  let redis: Redis;
  let dataDir: string;
  let dropDb: () => Promise<void>;
  const lines: string[] = [];
  const webhookSecret = `wh-${randomBytes(18).toString('hex')}`;
  let webhookUrl: string;
  /** A Discord person whose id is in ADMIN_IDS, but as a Telegram id: not an admin on Discord. */
  let impostor: FakeUser;
  let root: FakeUser;
  const interactionTokens: string[] = [];

  /** What the fake Telegram queued, posted to the webhook the way Telegram does. */
  async function deliver(updateId: number): Promise<void> {
    const response = await fetch(webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': webhookSecret },
      body: JSON.stringify(tg.takeUpdate(updateId)),
    });
    expect(response.status).toBe(200);
  }

  /** A text from `user` in their private chat; resolves with the bot's answer to it. */
  async function say(user: TgUser, text: string): Promise<string> {
    const chat = privateChat(user);
    const { message, updateId } = await tg.userSends({ chat, from: user, text });
    await deliver(updateId);
    const answer = await tg.waitFor(() => tg.sentIn(chat.id).find((m) => m.reply_to_message?.message_id === message.message_id && m.text), 10_000, `answer to ${text}`);
    return answer.text!;
  }

  async function slash(name: string, options: Parameters<FakeDiscord['slash']>[1], from: FakeUser, attachments?: Parameters<FakeDiscord['slash']>[2]['attachments']): Promise<FakeInteraction> {
    const ix = dc.slash(name, options, { from, attachments });
    interactionTokens.push(ix.token);
    return ix;
  }

  const answered = (ix: FakeInteraction, pattern = /./) => dc.waitFor(() => (ix.original && pattern.test(ix.original.content) ? ix.original.content : undefined), 15_000, `answer to ${ix.id}`);

  beforeAll(async () => {
    tg = await new FakeTelegram().start();
    dc = await startFakeDiscord({ heartbeatIntervalMs: 2_000 });
    impostor = dc.user('impostor');
    root = dc.user('root');
    // The production logger, redaction and all, at debug: what an operator's log file would hold.
    const logger = createLogger({
      level: 'debug',
      secrets: [tg.token, webhookSecret, dc.token],
      destination: new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    });
    http = createHttpServer({ logger });
    const port = await http.listen(0, '127.0.0.1');
    webhookUrl = `http://127.0.0.1:${port}/telegram/webhook`;
    const database = await createTestDatabase();
    dropDb = database.drop;
    dataDir = await mkdtemp(join(tmpdir(), 'likeness-security-'));
    config = loadConfig({
      DATABASE_URL: database.url,
      REDIS_URL,
      QUEUE_PREFIX: `test-${randomBytes(5).toString('hex')}`,
      DATA_DIR: dataDir,
      GPU_BACKEND: 'instant',
      LOG_LEVEL: 'debug',
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.url,
      TELEGRAM_WEBHOOK_URL: webhookUrl,
      TELEGRAM_WEBHOOK_SECRET: webhookSecret,
      DISCORD_TOKEN: dc.token,
      DISCORD_API_BASE: dc.apiBase,
      ATTACHMENT_HOSTS: dc.cdnHost,
      ADMIN_IDS: `telegram:${ada.id},telegram:${impostor.id},discord:${root.id}`,
    });
    expect(configSecrets(config)).toEqual(expect.arrayContaining([tg.token, webhookSecret, dc.token]));
    app = createApp(config, logger);
    redis = new Redis(REDIS_URL);
    telegram = createTelegramFrontend({ app, config, logger, http, tuning: { albumQuietMs: 250 } });
    discord = createDiscordFrontend({ app, config, logger, redis, tuning: { allowPrivateAttachmentAddresses: true } });
    await telegram.start();
    await discord.start();
    app.startGpuWorker();
    app.startDeliveryWorker(new Map([['telegram', telegram.deliverer], ['discord', discord.deliverer]]));
  });

  afterAll(async () => {
    await telegram?.stop();
    await discord?.stop();
    await app?.close();
    await telegram?.close();
    await http?.close();
    if (redis) {
      const keys = await redis.keys(`${config.queuePrefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
    await Promise.allSettled([tg?.close(), dc?.close()]);
    await dropDb?.();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('Telegram: a portrait and its 8K file through the webhook', async () => {
    const chat = privateChat(ada);
    await say(ada, '/start');
    const consent = await tg.waitFor(() => tg.button(chat.id, 'I agree'), 10_000, 'consent card');
    await deliver(tg.pressButton({ from: ada, message: consent.message, data: consent.data }));
    await tg.waitFor(() => tg.sentIn(chat.id).find((m) => m.text?.startsWith('Thank you')), 10_000, 'consent recorded');
    const { updateId } = await tg.userSends({ chat, from: ada, photo: astronaut, caption: '/portrait noir' });
    await deliver(updateId);
    const star = await tg.waitFor(() => tg.button(chat.id, '⭐1'), 20_000, 'the portraits');
    await deliver(tg.pressButton({ from: ada, message: star.message, data: star.data }));
    await tg.waitFor(() => tg.sentIn(chat.id).find((m) => m.document), 20_000, 'the 8K file');
  });

  it('Discord: a portrait and its 8K file through interactions', async () => {
    const dee = dc.user('dee');
    const first = await slash('portrait', [{ name: 'style', type: OPTION.string, value: 'studio' }], dee);
    await answered(first, /Before we start/);
    const card = first.original!;
    const agree = dc.press(card, customIds(card).find((b) => b.label === 'I agree')!.id, dee);
    interactionTokens.push(agree.token);
    await dc.waitFor(() => card.content.startsWith('Thank you'), 10_000, 'consent recorded');

    const photo = dc.attachment(astronaut, 'me.jpg');
    const ix = await slash('portrait', [{ name: 'style', type: OPTION.string, value: 'studio' }, { name: 'photo1', type: OPTION.attachment, value: photo.id }], dee, [photo]);
    const result = await dc.waitFor(() => ix.followUps.find((m) => m.attachments.length === 4), 30_000, 'the portraits');
    const upscale = dc.press(result, customIds(result).find((b) => b.label === 'U1')!.id, dee);
    interactionTokens.push(upscale.token);
    await dc.waitFor(() => upscale.followUps.find((m) => m.attachments.length === 1), 30_000, 'the 8K file');
  });

  it('refuses /admin to everyone not in ADMIN_IDS, on both platforms, and changes nothing', async () => {
    const ledger = async () => (await app.database.pool.query(`select count(*)::int as n from credit_ledger where reason = 'grant'`)).rows[0].n as number;
    const banned = async () => (await app.database.pool.query(`select count(*)::int as n from accounts where banned_at is not null`)).rows[0].n as number;

    // Telegram: bob is not an admin.
    expect(await say(bob, `/admin grant telegram:${bob.id} 500`)).toMatch(/I don't know that command/);
    expect(await say(bob, `/admin ban telegram:${ada.id}`)).toMatch(/I don't know that command/);
    // Discord: dee is nobody; the impostor's id is listed, but as a Telegram id.
    for (const who of [dc.user('dee'), impostor]) {
      const grant = await slash('admin', [{ name: 'grant', type: OPTION.subcommand, options: [{ name: 'user', type: OPTION.string, value: `<@${who.id}>` }, { name: 'credits', type: OPTION.integer, value: 500 }] }], who);
      expect(await answered(grant)).toMatch(/I don't know that command/);
      const ban = await slash('admin', [{ name: 'ban', type: OPTION.subcommand, options: [{ name: 'user', type: OPTION.string, value: `<@${root.id}>` }] }], who);
      expect(await answered(ban)).toMatch(/I don't know that command/);
    }
    expect(await ledger()).toBe(0);
    expect(await banned()).toBe(0);

    // The same commands from the admins do work (so the refusals above are refusals, not a broken set-up).
    expect(await say(ada, `/admin grant telegram:${bob.id} 5`)).toBe(`Granted 5 credits to telegram:${bob.id}.`);
    const grant = await slash('admin', [{ name: 'grant', type: OPTION.subcommand, options: [{ name: 'user', type: OPTION.string, value: `<@${impostor.id}>` }, { name: 'credits', type: OPTION.integer, value: 5 }] }], root);
    expect(await answered(grant)).toBe(`Granted 5 credits to discord:${impostor.id}.`);
    expect(await ledger()).toBe(2);
  });

  it('no bot token or webhook secret in the logs, in Redis, in Postgres or in stored files', async () => {
    const secrets: Record<string, string> = {
      'Telegram bot token': tg.token,
      "Telegram bot token's secret half": tg.token.split(':')[1]!,
      'Telegram webhook secret': webhookSecret,
      'Discord bot token': dc.token,
    };
    const logs = lines.join('');
    const keys = await redisDump(redis, config.queuePrefix);
    const tables = await postgresDump(app);
    const files = await filesUnder(dataDir);
    // Not vacuous: the run left jobs, results, queue data and files behind to look through.
    expect(logs.match(/"msg":"delivered"/g)).toHaveLength(4);
    expect(keys.some((k) => k.key.includes(':gpu:'))).toBe(true);
    expect(keys.some((k) => k.key.includes(':delivery:'))).toBe(true);
    expect(JSON.parse(tables.get('jobs')!)).toHaveLength(4); // a portrait and its 8K file on each platform
    expect(files.length).toBeGreaterThan(8);

    for (const [what, secret] of Object.entries(secrets)) {
      expect(logs.includes(secret), `${what} in the logs`).toBe(false);
      expect(keys.filter((k) => k.text.includes(secret)).map((k) => k.key), `${what} in Redis`).toEqual([]);
      expect([...tables].filter(([, rows]) => rows.includes(secret)).map(([name]) => name), `${what} in Postgres`).toEqual([]);
      expect(files.filter((f) => f.bytes.includes(secret)).map((f) => f.path), `${what} in stored files`).toEqual([]);
    }
    // Discord interaction tokens are follow-up credentials: kept in Redis only while Discord honours them (15 minutes), nowhere else.
    expect(interactionTokens.length).toBeGreaterThan(2);
    for (const token of interactionTokens) {
      expect(logs.includes(token), 'an interaction token in the logs').toBe(false);
      expect([...tables].filter(([, rows]) => rows.includes(token)).map(([name]) => name), 'an interaction token in Postgres').toEqual([]);
      for (const key of keys.filter((k) => k.text.includes(token))) {
        expect(key.ttlMs, `${key.key} keeps an interaction token`).toBeGreaterThan(0);
        expect(key.ttlMs, `${key.key} keeps an interaction token`).toBeLessThanOrEqual(15 * 60_000);
      }
    }
  });
});

describe('attachment downloads refuse what they must', () => {
  let server: Server;
  let port: number;
  const hits: string[] = [];
  const policyFor = (host: string) => attachmentPolicy([host], { allowPrivateAddresses: true });

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url?.startsWith('/huge')) {
        // Announces (and would send) more than the limit.
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(50 * 1024 * 1024) });
        res.write(Buffer.alloc(64 * 1024));
        return;
      }
      if (req.url?.startsWith('/file/bot') && req.url.includes('/redirect')) {
        res.writeHead(302, { location: `http://127.0.0.1:${port}/internal/latest/meta-data` });
        return void res.end();
      }
      if (req.url?.startsWith('/file/bot') && req.url.includes('/endless')) {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        const timer = setInterval(() => res.write(Buffer.alloc(64 * 1024)), 1);
        res.on('close', () => clearInterval(timer));
        return;
      }
      res.end('internal data');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('Discord: a host not on the list is never contacted', async () => {
    const before = hits.length;
    const source = discordPhotoSource({ url: `http://127.0.0.1:${port}/me.jpg` }, 'photo 1', policyFor('cdn.example.org'));
    await expect(source.read(1024 * 1024)).rejects.toMatchObject({ code: 'CORRUPT_IMAGE' });
    expect(hits.length).toBe(before);
  });

  it('Discord: a body announced over the limit is refused without reading it', async () => {
    const source = discordPhotoSource({ url: `http://127.0.0.1:${port}/huge.jpg` }, 'photo 1', policyFor(`127.0.0.1:${port}`));
    await expect(source.read(1024 * 1024)).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
  });

  const telegramDeps = (filePath: string, fileSize?: number) => ({
    api: { getFile: async () => ({ file_id: 'f', file_unique_id: 'u', file_path: filePath, ...(fileSize !== undefined ? { file_size: fileSize } : {}) }) },
    token: '123:secret-token-value-abcdefghij',
    apiRoot: `http://127.0.0.1:${port}`,
    downloadLimit: 20 * 1024 * 1024,
  });

  it('Telegram: a file Telegram says is over the limit is not downloaded', async () => {
    const before = hits.length;
    const source = telegramPhotoSource(telegramDeps('photos/file_1.jpg', 5 * 1024 * 1024) as never, { fileId: 'f', kind: 'photo' } as never, 'photo 1');
    await expect(source.read(1024 * 1024)).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
    expect(hits.length).toBe(before);
  });

  it('Telegram: a download that runs past the limit is cut off', async () => {
    const source = telegramPhotoSource(telegramDeps('photos/endless.jpg') as never, { fileId: 'f', kind: 'photo' } as never, 'photo 1');
    await expect(source.read(256 * 1024)).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
  });

  it('Telegram: a redirect from the file server is not followed (it could lead to a private address)', async () => {
    const source = telegramPhotoSource(telegramDeps('photos/redirect.jpg') as never, { fileId: 'f', kind: 'photo' } as never, 'photo 1');
    const before = hits.filter((h) => h.startsWith('/internal')).length;
    await source.read(1024 * 1024).catch(() => undefined);
    expect(hits.filter((h) => h.startsWith('/internal')).length).toBe(before);
  });
});
