import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findAccountByIdentity } from '../../src/db/accounts.repository.js';
import { getJob } from '../../src/db/jobs.repository.js';
import { createLocalBackend } from '../../src/gpu/local.backend.js';
import { readXmp } from '../../src/images/index.js';
import { agree, bufferSource, chatRequest, createTestApp, recordingDeliverer, type TestApp } from '../support/test-app.js';

const photo = async () => bufferSource(await readFile(new URL('../../samples/astronaut.jpg', import.meta.url)));

describe('the other commands', () => {
  let t: TestApp;
  let outbox: ReturnType<typeof recordingDeliverer>;
  beforeEach(async () => {
    t = await createTestApp();
    outbox = recordingDeliverer();
    t.app.startGpuWorker(createLocalBackend());
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    await agree(t.app);
  });
  afterEach(() => t.cleanup());

  it('/restore sends the restored photo beside the original, labelled as a reconstruction, for 1 credit', async () => {
    const reply = await t.app.commands.handle(chatRequest({ command: 'restore', photos: [await photo()], options: { colorize: true } }));
    expect(reply.text).toMatch(/^Restoring and colorizing your photo: (queued — position 1|in progress)/);
    const final = await outbox.finalFor(reply.job!.id);
    expect(final.reply.text).toContain('AI reconstruction — not an original photograph');
    expect(final.reply.images!.map((i) => i.filename)).toEqual(['original.jpg', expect.stringMatching(/^restored-/)]);
    const stored = await t.app.store.get(final.reply.images![1]!.artifactKey);
    expect((await sharp(stored).metadata()).format).toBe('jpeg');
    // Labelled once, by the GPU handler, with what the backend reported: its credit, and a reconstruction's note.
    const xmp = await readXmp(stored);
    expect(xmp).toContain('trainedAlgorithmicMedia');
    expect(xmp).toContain('Likeness local preview — AI-generated');
    expect(xmp).toContain('AI reconstruction — not an original photograph');

    expect(await getJob(t.app.database.db, reply.job!.id)).toMatchObject({ kind: 'restore', price: 1, params: { colorize: true } });
    const credits = await t.app.commands.handle(chatRequest({ command: 'credits' }));
    expect(credits.text).toContain('free today: 7 of 8');
    // Its 8K version keeps saying what it is.
    const upscale = await t.app.commands.handle(chatRequest({ command: 'upscale', target: final.reply.images![1]!.resultId }));
    const eightK = await outbox.finalFor(upscale.job!.id);
    expect(await readXmp(await t.app.store.get(eightK.reply.images![0]!.artifactKey))).toContain('AI reconstruction — not an original photograph');
  });

  it('/credits, /history, /styles and /help answer without charging', async () => {
    const credits = await t.app.commands.handle(chatRequest({ command: 'credits' }));
    expect(credits.text).toContain('Credits: 0 · free today: 8 of 8');
    expect(credits.text).toContain('4 portraits 4 · 8K upscale 2 · restore 1');

    const empty = await t.app.commands.handle(chatRequest({ command: 'history' }));
    expect(empty.text).toMatch(/No requests yet/);
    const reply = await t.app.commands.handle(chatRequest({ photos: [await photo()], options: { style: 'noir' } }));
    await outbox.finalFor(reply.job!.id);
    const history = await t.app.commands.handle(chatRequest({ command: 'history' }));
    expect(history.text).toMatch(/portrait \(noir\) — done/);

    const styles = await t.app.commands.handle(chatRequest({ command: 'styles' }));
    expect(styles.text.split('\n').filter((l) => l.startsWith('•'))).toHaveLength(15);
    const help = await t.app.commands.handle(chatRequest({ command: 'help' }));
    expect(help.text).toContain('/portrait');
  });

  it('/forget asks first, then deletes every photo, result and record of the person', async () => {
    const reply = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
    const final = await outbox.finalFor(reply.job!.id);
    const job = (await getJob(t.app.database.db, reply.job!.id))!;
    const keys = [...job.inputs, ...final.reply.images!.map((i) => i.artifactKey)];
    for (const key of keys) expect(await t.app.store.exists(key)).toBe(true);

    const ask = await t.app.commands.handle(chatRequest({ command: 'forget' }));
    expect(ask.buttons?.[0]?.[0]).toMatchObject({ command: 'forget', target: 'confirm' });
    expect(await findAccountByIdentity(t.app.database.db, { platform: 'telegram', userId: 'u-1' })).toBeDefined();

    const done = await t.app.commands.handle(chatRequest({ command: 'forget', target: 'confirm' }));
    expect(done.text).toMatch(/deleted/);
    for (const key of keys) expect(await t.app.store.exists(key)).toBe(false);
    const { rows } = await t.app.database.pool.query(`
      select (select count(*) from accounts)::int as accounts, (select count(*) from identities)::int as identities,
             (select count(*) from credit_ledger)::int as ledger, (select count(*) from results)::int as results,
             (select count(*) from jobs where account_id is not null or conversation is not null or inputs <> '[]'::jsonb)::int as linked_jobs,
             (select count(*) from jobs)::int as anonymous_jobs`);
    expect(rows[0]).toEqual({ accounts: 0, identities: 0, ledger: 0, results: 0, linked_jobs: 0, anonymous_jobs: 1 });
  });

  it('refuses unknown styles and bad subjects before touching the photos', async () => {
    const style = await t.app.commands.handle(chatRequest({ photos: [await photo()], options: { style: 'cubism' } }));
    expect(style).toMatchObject({ code: 'UNKNOWN_STYLE', tone: 'error' });
    expect(style.text).toContain('/styles');
    const none = await t.app.commands.handle(chatRequest({ photos: [] }));
    expect(none.code).toBe('NO_PHOTO');
    const five = await t.app.commands.handle(chatRequest({ photos: await Promise.all([1, 2, 3, 4, 5].map(photo)) }));
    expect(five.code).toBe('TOO_MANY_PHOTOS');
    const { rows } = await t.app.database.pool.query('select count(*)::int as n from jobs');
    expect(rows[0].n).toBe(0);
  });

  it('banned people cannot spend, and are told so', async () => {
    const account = await findAccountByIdentity(t.app.database.db, { platform: 'telegram', userId: 'u-1' });
    await t.app.database.pool.query('update accounts set banned_at = now() where id = $1', [account!.id]);
    const reply = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
    expect(reply.code).toBe('BANNED');
  });
});
