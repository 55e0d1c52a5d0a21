import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Request } from '../../src/bots/core/request.js';
import { getJob } from '../../src/db/jobs.repository.js';
import { resultsOfJob } from '../../src/db/results.repository.js';
import { createLogger } from '../../src/logger.js';
import { retentionCutoffs, runRetention, type RetentionDeps } from '../../src/jobs/retention.js';
import { agree, bufferSource, chatRequest, createTestApp, eventually, recordingDeliverer, type TestApp } from '../support/test-app.js';

const astronaut = () => readFile(new URL('../../samples/astronaut.jpg', import.meta.url));
const DAY_MS = 24 * 60 * 60 * 1000;

describe('retention: stored pixels go after their time, rows stay as usage', () => {
  let t: TestApp;
  let outbox: ReturnType<typeof recordingDeliverer>;
  let deps: RetentionDeps;
  beforeEach(async () => {
    t = await createTestApp({ FREE_DAILY_CREDITS: '100' });
    outbox = recordingDeliverer();
    t.app.startGpuWorker();
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    await agree(t.app);
    deps = { db: t.app.database.db, store: t.app.store, retention: { inputDays: 7, outputDays: 30 }, logger: createLogger({ level: 'silent' }) };
  });
  afterEach(() => t.cleanup());

  /** Runs a request that makes a job and waits until its outcome was delivered. */
  const made = async (request: Partial<Request>) => {
    const reply = await t.app.commands.handle(chatRequest(request));
    expect(reply.job, reply.text).toBeDefined();
    await outbox.finalFor(reply.job!.id);
    return eventually(async () => {
      const job = await getJob(t.app.database.db, reply.job!.id);
      return job?.deliveredAt ? job : undefined;
    });
  };
  const portrait = async () => made({ photos: [bufferSource(await astronaut())] });
  /** Moves a job and its results `days` into the past. */
  const age = async (jobId: string, days: number) => {
    const at = new Date(Date.now() - days * DAY_MS).toISOString();
    await t.app.database.pool.query('update jobs set created_at = $2 where id = $1', [jobId, at]);
    await t.app.database.pool.query('update results set created_at = $2 where job_id = $1', [jobId, at]);
  };
  const keysOf = async (jobId: string) => ({
    inputs: (await getJob(t.app.database.db, jobId))!.inputs,
    results: (await resultsOfJob(t.app.database.db, jobId)).map((r) => r.artifactKey),
  });
  const stored = async (keys: string[]) => Promise.all(keys.map((k) => t.app.store.exists(k)));
  const marks = async () =>
    (
      await t.app.database.pool.query(`
        select j.id, j.inputs_purged_at, json_agg(r.purged_at order by r.variant) as result_marks
        from jobs j left join results r on r.job_id = j.id group by j.id order by j.id`)
    ).rows;
  const spent = async () =>
    (await t.app.database.pool.query('select coalesce(sum(delta), 0)::int as sum, (select count(*)::int from jobs) as jobs from credit_ledger')).rows[0];

  it('cutoffs are the configured days before now; 0 keeps forever', () => {
    const now = new Date('2026-03-31T12:00:00Z');
    expect(retentionCutoffs({ inputDays: 7, outputDays: 30 }, now)).toEqual({ inputs: new Date('2026-03-24T12:00:00Z'), results: new Date('2026-03-01T12:00:00Z') });
    expect(retentionCutoffs({ inputDays: 0, outputDays: 0 }, now)).toEqual({ inputs: undefined, results: undefined });
  });

  it('deletes old inputs and results from the store, keeps rows (marked) and new files; a second run changes nothing; 0 days keeps all', async () => {
    const old = await portrait(); // 40 days: inputs and results due
    const middle = await portrait(); // 10 days: inputs due, results kept
    const child = await made({ command: 'reroll', target: middle.id }); // a re-roll reads the middle job's photos
    const fresh = await portrait(); // today: everything kept
    await age(old.id, 40);
    await age(middle.id, 10);
    const keys = { old: await keysOf(old.id), middle: await keysOf(middle.id), child: await keysOf(child.id), fresh: await keysOf(fresh.id) };
    expect(keys.child.inputs).toEqual(keys.middle.inputs);
    const all = Object.values(keys).flatMap((k) => [...k.inputs, ...k.results]);
    expect(await stored(all)).not.toContain(false);
    const rowsBefore = (await t.app.database.pool.query('select (select count(*) from jobs)::int as jobs, (select count(*) from results)::int as results')).rows[0];

    // Kept forever: nothing happens at all.
    expect(await runRetention({ ...deps, retention: { inputDays: 0, outputDays: 0 } })).toEqual({ inputs: 0, results: 0, detached: 0 });
    expect(await stored(all)).not.toContain(false);
    expect((await marks()).every((m) => m.inputs_purged_at === null && m.result_marks.every((x: unknown) => x === null))).toBe(true);

    const report = await runRetention(deps);
    expect(report).toEqual({ inputs: 2, results: 4, detached: 0 });
    expect(await stored(keys.old.inputs)).toEqual([false]);
    expect(await stored(keys.old.results)).toEqual([false, false, false, false]);
    expect(await stored(keys.middle.inputs)).toEqual([false]);
    expect(await stored(keys.middle.results)).toEqual([true, true, true, true]);
    expect(await stored(keys.child.results)).toEqual([true, true, true, true]);
    expect(await stored([...keys.fresh.inputs, ...keys.fresh.results])).not.toContain(false);

    // Rows keep the usage, and say what went.
    const rowsAfter = (await t.app.database.pool.query('select (select count(*) from jobs)::int as jobs, (select count(*) from results)::int as results')).rows[0];
    expect(rowsAfter).toEqual(rowsBefore);
    const oldJob = (await getJob(t.app.database.db, old.id))!;
    expect(oldJob).toMatchObject({ status: 'succeeded', price: 4, inputs: keys.old.inputs });
    expect(oldJob.inputsPurgedAt).toBeInstanceOf(Date);
    expect((await resultsOfJob(t.app.database.db, old.id)).every((r) => r.purgedAt instanceof Date && r.bytes > 0)).toBe(true);
    expect((await getJob(t.app.database.db, middle.id))!.inputsPurgedAt).toBeInstanceOf(Date);
    expect((await resultsOfJob(t.app.database.db, middle.id)).every((r) => r.purgedAt === null)).toBe(true);
    expect((await getJob(t.app.database.db, fresh.id))!.inputsPurgedAt).toBeNull();
    expect((await getJob(t.app.database.db, child.id))!.inputsPurgedAt).toBeNull(); // its own row is young

    // A second run finds nothing and changes nothing.
    const marked = await marks();
    expect(await runRetention(deps)).toEqual({ inputs: 0, results: 0, detached: 0 });
    expect(await marks()).toEqual(marked);
  });

  it('after retention, an upscale of a deleted picture or a re-roll of deleted photos says so and charges nothing', async () => {
    const old = await portrait();
    const middle = await portrait();
    const child = await made({ command: 'reroll', target: middle.id });
    await age(old.id, 40);
    await age(middle.id, 10);
    await runRetention(deps);
    const before = await spent();

    const [oldResult] = await resultsOfJob(t.app.database.db, old.id);
    const upscale = await t.app.commands.handle(chatRequest({ command: 'upscale', target: oldResult!.id }));
    expect(upscale).toMatchObject({ tone: 'error', code: 'RESULT_EXPIRED' });
    expect(upscale.text).toMatch(/deleted.*Nothing was charged/);
    for (const command of ['reroll', 'notthem'] as const) {
      for (const target of [old.id, middle.id, child.id]) {
        // The child's own row is young and unmarked: the store says its (parent's) photos are gone.
        const reply = await t.app.commands.handle(chatRequest({ command, target }));
        expect(reply, `${command} ${target}`).toMatchObject({ tone: 'error', code: 'INPUTS_EXPIRED' });
        expect(reply.text).toMatch(/photos .* deleted.*Nothing was charged/);
      }
    }
    expect(await spent()).toEqual(before);

    // A result that is still stored upscales as before.
    const [kept] = await resultsOfJob(t.app.database.db, middle.id);
    const ok = await t.app.commands.handle(chatRequest({ command: 'upscale', target: kept!.id }));
    expect(ok.job).toBeDefined();
  });

  it('leaves photos a waiting or running job still reads until it has finished', async () => {
    const parent = await portrait();
    const child = await made({ command: 'reroll', target: parent.id });
    await age(parent.id, 10);
    await t.app.database.pool.query(`update jobs set status = 'running' where id = $1`, [child.id]);
    expect(await runRetention(deps)).toMatchObject({ inputs: 0 });
    expect(await stored(parent.inputs)).toEqual([true]);
    await t.app.database.pool.query(`update jobs set status = 'succeeded' where id = $1`, [child.id]);
    expect(await runRetention(deps)).toMatchObject({ inputs: 1 });
    expect(await stored(parent.inputs)).toEqual([false]);
  });

  it('works through many rows in batches', async () => {
    const jobs = [await portrait(), await portrait(), await portrait()];
    for (const job of jobs) await age(job.id, 40);
    // Batches of 2: the loop has to come back for the rest.
    expect(await runRetention({ ...deps, batchSize: 2 })).toEqual({ inputs: 3, results: 12, detached: 0 });
    for (const job of jobs) expect(await stored(job.inputs)).toEqual([false]);
    expect((await t.app.database.pool.query('select count(*)::int as n from results where purged_at is null')).rows[0].n).toBe(0);
  });

  it('two runs at once share the work: each row is purged and counted exactly once', async () => {
    const jobs = [await portrait(), await portrait(), await portrait(), await portrait()];
    for (const job of jobs) await age(job.id, 40);
    const [a, b] = await Promise.all([runRetention({ ...deps, batchSize: 1 }), runRetention({ ...deps, batchSize: 1 })]);
    expect(a.inputs + b.inputs).toBe(4);
    expect(a.results + b.results).toBe(16);
    for (const job of jobs) expect(await stored(job.inputs)).toEqual([false]);
  });

  it('runs by itself on the maintenance queue once started', async () => {
    const job = await portrait();
    await age(job.id, 40);
    await t.app.startMaintenance({ everyMs: 300 });
    await t.app.startMaintenance({ everyMs: 300 }); // a second call is a no-op
    await eventually(async () => (await getJob(t.app.database.db, job.id))?.inputsPurgedAt);
    await eventually(async () => (await resultsOfJob(t.app.database.db, job.id)).every((r) => r.purgedAt));
    expect(await stored(job.inputs)).toEqual([false]);
  });

  it('finishes a /forget whose store failed: the next run deletes the forgotten files', async () => {
    const job = await portrait();
    const { results } = await keysOf(job.id);
    const realDeletePrefix = t.app.store.deletePrefix;
    t.app.store.deletePrefix = async () => {
      throw new Error('store unreachable');
    };
    const reply = await t.app.commands.handle(chatRequest({ command: 'forget', target: 'confirm' })).finally(() => {
      t.app.store.deletePrefix = realDeletePrefix;
    });
    expect(reply.tone).toBe('success');
    expect(reply.text).toMatch(/records are deleted.*removed automatically/s);
    expect(await stored([...job.inputs, ...results])).toEqual([true, true, true, true, true]);
    expect((await getJob(t.app.database.db, job.id))).toMatchObject({ accountId: null, inputsPurgedAt: null });

    expect(await runRetention(deps)).toEqual({ inputs: 0, results: 0, detached: 1 });
    expect(await stored([...job.inputs, ...results])).toEqual([false, false, false, false, false]);
    expect((await getJob(t.app.database.db, job.id))!.inputsPurgedAt).toBeInstanceOf(Date);
  });
});
