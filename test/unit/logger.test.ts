import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { configSecrets, loadConfig } from '../../src/config.js';
import { addLogSecret, createLogger } from '../../src/logger.js';

const TELEGRAM_TOKEN = '7351946820:AAH4x_fake-Secret-Token-Value-12345';
const DISCORD_TOKEN = 'MTAxOTQ1NjQzMjE.fakeDiscord.TokenValueThatIsLong0123456789';
const REPLICATE_TOKEN = 'r8_Fake0123456789abcdefghijABCDEFGHIJ';

function captured() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { destination, text: () => lines.join('') };
}

describe('logger redaction', () => {
  it('never writes a token, however it reaches the log', () => {
    const config = loadConfig({ TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN, DISCORD_TOKEN, GPU_BACKEND: 'replicate', REPLICATE_API_TOKEN: REPLICATE_TOKEN, ADMIN_PASSWORD: 'hunter2-admin-password' });
    const out = captured();
    const logger = createLogger({ level: 'trace', secrets: configSecrets(config), destination: out.destination });

    logger.info({ token: TELEGRAM_TOKEN, config: { discord: { token: DISCORD_TOKEN } } }, 'keys named token');
    logger.info({ headers: { authorization: `Bot ${DISCORD_TOKEN}` } }, 'an authorization header');
    logger.info({ req: { headers: { authorization: `Bearer ${REPLICATE_TOKEN}` } } }, 'a nested authorization header');
    logger.info({ url: `https://api.telegram.org/file/bot${TELEGRAM_TOKEN}/photos/file_1.jpg` }, 'a Telegram file URL');
    logger.warn(`download failed for https://api.telegram.org/bot${TELEGRAM_TOKEN}/getFile`);
    logger.error({ err: new Error(`request to https://api.telegram.org/bot${TELEGRAM_TOKEN}/sendPhoto failed`) }, 'an error message');
    logger.info({ note: `the password is hunter2-admin-password and replicate says ${REPLICATE_TOKEN}` }, 'free text');
    logger.info({ body: Buffer.from('image bytes') }, 'bytes are not logged');
    logger.info({ url: 'https://discord.com/api/v10/webhooks/1019456432/aW50ZXJhY3Rpb246MTIzNDU2Nzg5OmZha2VUb2tlbg/messages/@original' }, 'a follow-up URL');
    logger.info({ db: 'postgres://likeness:pg-pass-123@db:5432/likeness', redis: 'redis://:redis-pass-456@cache:6379' }, 'connection URLs');

    const text = out.text();
    for (const secret of [TELEGRAM_TOKEN, DISCORD_TOKEN, REPLICATE_TOKEN, 'hunter2-admin-password', 'hunter2', 'AAH4x_fake', 'image bytes', 'pg-pass-123', 'redis-pass-456', 'aW50ZXJhY3Rpb246MTIz']) expect(text).not.toContain(secret);
    expect(text).toContain('[REDACTED]');
    expect(text).toContain('api.telegram.org/file/bot[REDACTED]/photos/file_1.jpg'); // the useful part of the URL survives
    expect(text.trim().split('\n')).toHaveLength(10);
    expect(text).toContain('postgres://likeness:[REDACTED]@db:5432/likeness');
  });

  it('redacts a configured secret however short it is', () => {
    const out = captured();
    const logger = createLogger({ level: 'info', secrets: ['k3y'], destination: out.destination });
    logger.info({ note: 'the webhook secret is k3y' }, 'and k3y again');
    expect(out.text()).not.toContain('k3y');
    expect(out.text()).toContain('the webhook secret is [REDACTED]');
  });

  it('redacts a secret registered after start (the generated link secret), in child loggers too', () => {
    const out = captured();
    const root = createLogger({ level: 'info', destination: out.destination });
    const child = root.child({ component: 'files' });
    const generated = 'generated-Link-Secret_0123456789abcdefghijklmnop';
    addLogSecret(child, generated);
    child.info({ seen: generated }, `secret ${generated}`);
    root.warn(`again ${generated}`);
    expect(out.text()).not.toContain(generated);
    expect(out.text().match(/\[REDACTED\]/g)).toHaveLength(3);
  });
});
