import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Request } from '../../src/bots/core/request.js';
import { findAccountByIdentity } from '../../src/db/accounts.repository.js';
import { getJob } from '../../src/db/jobs.repository.js';
import { resultsOfJob } from '../../src/db/results.repository.js';
import { bufferSource, chatRequest, createTestApp, eventually, recordingDeliverer, type TestApp } from '../support/test-app.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';

const astronaut = () => readFile(new URL('../../samples/astronaut.jpg', import.meta.url));

/** Distinctive values, so a substring found anywhere can only be theirs. */
const LEAVER = { id: 'leaver-7731-zq', name: 'Zelda Quennell', chat: 'chat-leaver-5519', message: 'msg-leaver-2287', prompt: 'violinist under quince blossom' };
const STAYER = { id: 'stayer-4406-xk', name: 'Orla Stayne', chat: 'chat-stayer-8830', message: 'msg-stayer-6142' };
type Person = typeof STAYER;

const as = (person: Person, request: Partial<Request>): Request =>
  chatRequest({
    user: { id: person.id, displayName: person.name },
    conversation: { platform: 'telegram', chatId: person.chat, messageId: person.message, userId: person.id },
    ...request,
  });

/** Every row of every table of the database (any schema but Postgres' own), as JSON text. */
async function everyRow(t: TestApp): Promise<Array<{ table: string; row: string }>> {
  const { rows: tables } = await t.app.database.pool.query<{ schema: string; name: string }>(`
    select table_schema as schema, table_name as name from information_schema.tables
    where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`);
  const all: Array<{ table: string; row: string }> = [];
  for (const { schema, name } of tables) {
    const quoted = `"${schema.replaceAll('"', '""')}"."${name.replaceAll('"', '""')}"`;
    const { rows } = await t.app.database.pool.query<{ row: string }>(`select row_to_json(t)::text as row from ${quoted} t`);
    all.push(...rows.map((r) => ({ table: `${schema}.${name}`, row: r.row })));
  }
  return all.sort((a, b) => a.table.localeCompare(b.table) || a.row.localeCompare(b.row));
}

/** Every file under a folder, as paths relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

describe('/forget on the S3 store: nothing of the person remains', () => {
  let s3: TestS3Server;
  let t: TestApp;
  let outbox: ReturnType<typeof recordingDeliverer>;
  beforeAll(async () => {
    s3 = await startS3Server();
    t = await createTestApp({ ...s3.env, FREE_DAILY_CREDITS: '100' });
    outbox = recordingDeliverer();
    t.app.startGpuWorker();
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
  });
  afterAll(async () => {
    await t.cleanup();
    await s3.close();
  });

  /** The first request makes the account, with the display name. */
  const consent = async (person: Person) => expect(await t.app.commands.handle(as(person, { command: 'consent' }))).toMatchObject({ tone: 'success' });
  const made = async (person: Person, request: Partial<Request>) => {
    const reply = await t.app.commands.handle(as(person, request));
    expect(reply.job, reply.text).toBeDefined();
    await outbox.finalFor(reply.job!.id);
    return eventually(async () => {
      const job = await getJob(t.app.database.db, reply.job!.id);
      return job?.deliveredAt ? job : undefined;
    });
  };
  const keysOf = async (jobIds: string[]) => {
    const keys = new Set<string>();
    for (const id of jobIds) {
      for (const key of (await getJob(t.app.database.db, id))!.inputs) keys.add(key);
      for (const r of await resultsOfJob(t.app.database.db, id)) keys.add(r.artifactKey);
    }
    return [...keys].sort();
  };
  const usage = async () =>
    (
      await t.app.database.pool.query(`
        select kind, status, count(*)::int as jobs, sum(price)::int as price, sum(gpu_seconds)::float as gpu, sum(cost_usd)::text as cost,
               sum(attempts)::int as attempts, array_agg(style order by id) as styles, array_agg(backend order by id) as backends
        from jobs group by kind, status order by kind, status`)
    ).rows;

  it('deletes every photo, result, job input and identity of the person from Postgres and the bucket, and nothing of anyone else', async () => {
    // The person: portraits (with a prompt), an 8K upscale of one, a re-roll, a restore.
    await consent(LEAVER);
    const portrait = await made(LEAVER, { photos: [bufferSource(await astronaut())], options: { style: 'noir', prompt: LEAVER.prompt } });
    const [favourite] = await resultsOfJob(t.app.database.db, portrait.id);
    const upscale = await made(LEAVER, { command: 'upscale', target: favourite!.id });
    const reroll = await made(LEAVER, { command: 'reroll', target: portrait.id });
    const restore = await made(LEAVER, { command: 'restore', photos: [bufferSource(await astronaut())], options: { colorize: true } });
    const leaverJobs = [portrait, upscale, reroll, restore].map((j) => j.id);
    const leaverAccount = (await findAccountByIdentity(t.app.database.db, { platform: 'telegram', userId: LEAVER.id }))!;

    // Someone else, who stays.
    await consent(STAYER);
    const other = await made(STAYER, { photos: [bufferSource(await astronaut())] });
    const otherResults = await resultsOfJob(t.app.database.db, other.id);
    const stayerAccount = (await findAccountByIdentity(t.app.database.db, { platform: 'telegram', userId: STAYER.id }))!;

    const leaverKeys = await keysOf(leaverJobs);
    const stayerKeys = await keysOf([other.id]);
    expect(leaverKeys.filter((k) => k.startsWith('inputs/'))).toHaveLength(2); // the portrait's and the restore's photos
    expect(leaverKeys.filter((k) => k.startsWith('results/'))).toHaveLength(4 + 1 + 4 + 1);
    // The inventory is complete: the bucket holds exactly these files.
    expect(await s3.listAll()).toEqual([...leaverKeys, ...stayerKeys].sort());

    const resultIds = (await t.app.database.pool.query('select id from results where job_id = any($1::uuid[])', [leaverJobs])).rows.map((r) => r.id as string);
    const idempotencyKeys = (await t.app.database.pool.query('select idempotency_key as k from jobs where id = any($1::uuid[])', [leaverJobs])).rows.map((r) => r.k as string);
    const needles = [leaverAccount.id, LEAVER.id, LEAVER.name, LEAVER.chat, LEAVER.message, LEAVER.prompt, ...leaverKeys, ...resultIds, ...idempotencyKeys];
    // The scan can see these: before /forget every one of them is somewhere in the database.
    const rowsBefore = await everyRow(t);
    for (const needle of needles) expect(rowsBefore.some((r) => r.row.includes(needle)), needle).toBe(true);
    const usageBefore = await usage();
    const stayerRowsBefore = rowsBefore.filter((r) => r.row.includes(stayerAccount.id) || r.row.includes(other.id));

    const ask = await t.app.commands.handle(as(LEAVER, { command: 'forget' }));
    expect(ask.buttons?.[0]?.[0]).toMatchObject({ command: 'forget', target: 'confirm' });
    expect(await s3.listAll()).toEqual([...leaverKeys, ...stayerKeys].sort()); // asking deletes nothing
    const done = await t.app.commands.handle(as(LEAVER, { command: 'forget', target: 'confirm' }));
    expect(done).toMatchObject({ tone: 'success' });
    expect(done.text).toMatch(/Everything of yours has been deleted/);

    // Postgres: no row of any table mentions them.
    const rowsAfter = await everyRow(t);
    for (const needle of needles) {
      const found = rowsAfter.filter((r) => r.row.includes(needle));
      expect(found, `${needle} still in ${found.map((f) => f.table).join(', ')}`).toEqual([]);
    }
    // The bucket: exactly the other person's files, through the S3 API and on s3rver's disk.
    expect(await s3.listAll()).toEqual(stayerKeys);
    const onDisk = await filesUnder(s3.directory);
    for (const jobId of leaverJobs) expect(onDisk.filter((path) => path.includes(jobId)), jobId).toEqual([]);
    expect(onDisk.some((path) => path.includes(other.id))).toBe(true);

    // Anonymous usage is all that is left of them, and it adds up to what it did.
    expect(await usage()).toEqual(usageBefore);
    const { rows: leftover } = await t.app.database.pool.query('select * from jobs where id = any($1::uuid[])', [leaverJobs]);
    expect(leftover).toHaveLength(4);
    for (const job of leftover) {
      expect(job).toMatchObject({ account_id: null, conversation: null, inputs: [], params: {}, parent_job_id: null });
      expect(job.inputs_purged_at).toBeInstanceOf(Date);
    }

    // The other person is untouched: every row of theirs is as it was, and their files still read.
    expect(rowsAfter.filter((r) => r.row.includes(stayerAccount.id) || r.row.includes(other.id))).toEqual(stayerRowsBefore);
    for (const r of otherResults) expect((await t.app.store.get(r.artifactKey)).byteLength).toBe(r.bytes);
    const credits = await t.app.commands.handle(as(STAYER, { command: 'credits' }));
    expect(credits.text).toContain('free today: 96 of 100');

    // Coming back later is a fresh start, but for what the tombstone keeps: today's free credits stay used.
    const again = await t.app.commands.handle(as(LEAVER, { command: 'credits' }));
    expect(again.text).toContain('free today: 89 of 100');
    expect(again.text).toContain('Credits: 0');
    expect((await findAccountByIdentity(t.app.database.db, { platform: 'telegram', userId: LEAVER.id }))!.id).not.toBe(leaverAccount.id);
  });
});

describe('/forget keeps only a tombstone: no way out of a ban, no refill of free credits (issue 21, point 4)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ GPU_BACKEND: 'instant', FREE_DAILY_CREDITS: '100', TOMBSTONE_SECRET: 'k'.repeat(40) });
  });
  afterAll(() => t.cleanup());

  const send = (user: string, request: Partial<Request>) => t.app.commands.handle(chatRequest({ user: { id: user }, ...request }));
  const forget = async (user: string) => expect((await send(user, { command: 'forget', target: 'confirm' })).tone).toBe('success');

  it('a banned person who forgets comes back banned; an unbanned one, with the free credits they used today still used', async () => {
    const outbox = recordingDeliverer();
    t.app.startGpuWorker();
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    const card = await send('tomb-1', { command: 'forget' });
    expect(card.text).toMatch(/Kept: only a one-way code of your chat account with any ban and the free credits you used today/);

    await send('tomb-1', { command: 'consent' });
    const banned = (await findAccountByIdentity(t.app.database.db, { platform: 'telegram', userId: 'tomb-1' }))!;
    await t.app.repos.accounts.setBanned(banned.id, true, 'abuse');
    await forget('tomb-1');
    await send('tomb-1', { command: 'consent' });
    const portrait = await send('tomb-1', { command: 'portrait', photos: [bufferSource(await astronaut())] });
    expect(portrait.code).toBe('BANNED');

    // Spends 4 of the 100 free credits, forgets, comes back: 96 left, not 100.
    await send('tomb-2', { command: 'consent' });
    const first = await send('tomb-2', { command: 'portrait', photos: [bufferSource(await astronaut())] });
    await outbox.finalFor(first.job!.id);
    await forget('tomb-2');
    expect((await send('tomb-2', { command: 'credits' })).text).toContain('free today: 96 of 100');
    // Twice in a day changes nothing: what was used stays used.
    await forget('tomb-2');
    expect((await send('tomb-2', { command: 'credits' })).text).toContain('free today: 96 of 100');

    // The tombstone says neither who nor anything else: a keyed hash, a ban, a day and a count.
    const { rows } = await t.app.database.pool.query('select * from forgotten_identities');
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(Object.keys(row).sort()).toEqual(['ban_reason', 'banned_at', 'forgotten_at', 'free_day', 'free_used', 'identity_hash']);
      expect(JSON.stringify(row)).not.toMatch(/tomb-/);
    }
  });
});
