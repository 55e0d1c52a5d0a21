/**
 * The likeness gate on real photos, Postgres, Redis and the artifact store: a GPU worker with the
 * gate on (the app's own, or one started with other settings), a backend that paints a stranger's
 * face into chosen variants, the delivery worker and a recording deliverer standing in for the chat.
 */
import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { findAccountByIdentity } from '../../src/db/accounts.repository.js';
import { completeJob, getJob } from '../../src/db/jobs.repository.js';
import { grantCredits, ledgerOfJob } from '../../src/db/ledger.repository.js';
import { likenessAgreement } from '../../src/db/likeness.repository.js';
import { resultsOfJob } from '../../src/db/results.repository.js';
import type { GpuBackend, GpuTask, PortraitTask, RestoreTask } from '../../src/gpu/backend.js';
import { createInstantBackend } from '../../src/gpu/instant.backend.js';
import { createLocalBackend } from '../../src/gpu/local.backend.js';
import { embedLargestFace, likenessScore } from '../../src/images/index.js';
import { handleGpuJob } from '../../src/jobs/gpu.handler.js';
import type { LikenessSettings } from '../../src/jobs/likeness-gate.js';
import { createWorkerConnection } from '../../src/jobs/redis.js';
import { startGpuWorker } from '../../src/jobs/workers.js';
import { createLogger } from '../../src/logger.js';
import { agree, bufferSource, chatRequest, createTestApp, recordingDeliverer, REDIS_URL, type TestApp } from '../support/test-app.js';

const astronaut = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));
/** Someone else: the woman of face-single.jpg (likeness to the astronaut about 1). */
const stranger = await readFile(new URL('../fixtures/face-single.jpg', import.meta.url));
const astronautFace = (await embedLargestFace(astronaut))!.vector;

const GATE: LikenessSettings = { min: 50, retries: 2 };
const logger = createLogger({ level: 'silent' });

/**
 * The local backend's previews, except that `strangerIn(call, variant)` variants show the stranger
 * instead (call 1 is the job's own run, 2 and on are the gate's). Each run costs 1 GPU second and a
 * cent per image, like a paid backend would report.
 */
function castingBackend(strangerIn: (call: number, variant: number) => boolean) {
  const local = createLocalBackend();
  const calls: GpuTask[] = [];
  const backend: GpuBackend = {
    name: 'casting',
    async run(task, signal) {
      calls.push(task);
      const call = calls.length;
      if (task.kind === 'upscale') return local.run(task, signal);
      const own = await local.run(task, signal);
      const other = await local.run(task.kind === 'portrait' ? { ...task, photos: [stranger] } : { ...task, photo: stranger }, signal);
      const images = own.images.map((image, variant) => (strangerIn(call, variant) ? other.images[variant]! : image));
      return { images, model: 'test/casting', gpuSeconds: 1, costUsd: 0.01 * images.length };
    },
  };
  return { backend, calls };
}

describe('the likeness gate', () => {
  let t: TestApp;
  let outbox: ReturnType<typeof recordingDeliverer>;
  let worker: Worker | undefined;
  const workers: Array<{ worker: Worker; connection: Redis }> = [];

  beforeEach(async () => {
    t = await createTestApp({ FREE_DAILY_CREDITS: '2', LIKENESS_MIN: String(GATE.min), LIKENESS_RETRIES: String(GATE.retries) });
    await agree(t.app);
    outbox = recordingDeliverer();
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) {
      await w.worker.close();
      await w.connection.quit().catch(() => w.connection.disconnect());
    }
    worker = undefined;
    await t.cleanup();
  });

  /** A GPU worker with the gate's settings, the way the app starts one. */
  const startGatedWorker = (backend: GpuBackend, likeness: LikenessSettings = GATE) => {
    const connection = createWorkerConnection(REDIS_URL);
    const deps = { db: t.app.database.db, store: t.app.store, backend, styles: t.app.styles, delivery: t.app.deliveryQueue, logger, likeness };
    worker = startGpuWorker({ connection, prefix: t.config.queuePrefix, concurrency: 1, logger }, deps);
    workers.push({ worker, connection });
    return deps;
  };
  const account = async () => (await findAccountByIdentity(t.app.database.db, { platform: 'telegram', userId: 'u-1' }))!;
  const submit = async (photo = astronaut, command: 'portrait' | 'restore' = 'portrait') => {
    const reply = await t.app.commands.handle(chatRequest({ command, photos: [bufferSource(photo)] }));
    expect(reply.job, reply.text).toBeDefined();
    return reply.job!.id;
  };
  /** The job's ledger rows as [reason, pocket, delta], in order of reason (one statement's rows have no order of their own). */
  const ledger = async (jobId: string) => {
    const order = ['reserve', 'commit', 'likeness_refund', 'refund'];
    const rows = (await ledgerOfJob(t.app.database.db, jobId)).map((l) => [l.reason as string, l.pocket as string, l.delta] as const);
    return rows.sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]) || a[1].localeCompare(b[1])).map((r) => [...r]);
  };
  const storedLikeness = async (artifactKey: string) => likenessScore((await embedLargestFace(await t.app.store.get(artifactKey)))?.vector, [astronautFace]);

  it('regenerates a variant that shows someone else, with stronger identity, and delivers a good one, charged once', async () => {
    await grantCredits(t.app.database.db, (await account()).id, 10);
    const { backend, calls } = castingBackend((call, variant) => call === 1 && variant === 2);
    // The app's own GPU worker: LIKENESS_MIN and LIKENESS_RETRIES reach the gate from config.
    t.app.startGpuWorker(backend);
    const jobId = await submit();

    const final = await outbox.finalFor(jobId, 60_000);
    expect(final.reply.tone).toBe('success');
    expect(final.reply.images).toHaveLength(4);
    // The scores are shown with the results, and no variant needed an apology.
    const shown = [...final.reply.text.matchAll(/#(\d) likeness (\d+)/g)].map((m) => Number(m[2]));
    expect(shown).toHaveLength(4);
    for (const score of shown) expect(score).toBeGreaterThanOrEqual(GATE.min);
    expect(final.reply.text).not.toMatch(/may not look like/);

    // One regeneration, for the one weak variant, with a new seed and the style's stronger identity (studio: 0.7 → 0.85).
    expect(calls).toHaveLength(2);
    const [first, again] = calls as PortraitTask[];
    expect(again).toMatchObject({ kind: 'portrait', variants: 1, identityStrength: 0.85 });
    expect(again!.seed).not.toBe(first!.seed);

    // The user got the person in variant 3: the stored image itself scores high against the photo.
    const results = await resultsOfJob(t.app.database.db, jobId);
    expect(results.map((r) => r.variant)).toEqual([0, 1, 2, 3]);
    expect(results.map((r) => r.likenessScore)).toEqual(shown);
    expect(await storedLikeness(results[2]!.artifactKey)).toBeGreaterThanOrEqual(90);

    // The extra GPU time and cost are on the job; the user paid the price once and nothing more.
    const job = await getJob(t.app.database.db, jobId);
    expect(job).toMatchObject({ status: 'succeeded', likenessRetries: 1, gpuSeconds: 2 });
    expect(Number(job!.costUsd)).toBeCloseTo(0.05);
    expect(job!.params.likeness).toEqual({ min: GATE.min, weak: [], refunded: 0, retries: 1 });
    expect(await ledger(jobId)).toEqual([
      ['reserve', 'free', -2],
      ['reserve', 'paid', -2],
      ['commit', 'free', 0],
      ['commit', 'paid', 0],
    ]);
  }, 90_000);

  it('delivers a set that stays weak with an honest note and refunds its weak variants exactly once; 👎 then has nothing left to refund', async () => {
    await grantCredits(t.app.database.db, (await account()).id, 10);
    const { backend, calls } = castingBackend((call, variant) => call === 1 && variant >= 2);
    startGatedWorker(backend);
    // A good set first, kept: it counts for the agreement of score and verdict below.
    const kept = await submit();
    await outbox.finalFor(kept, 60_000);
    calls.length = 0;
    // Now every run paints the stranger into the weak variants.
    const { backend: stubborn, calls: stubbornCalls } = castingBackend(() => true);
    await worker!.close();
    startGatedWorker(stubborn);
    const jobId = await submit();

    const final = await outbox.finalFor(jobId, 90_000);
    expect(final.reply.images).toHaveLength(4);
    expect(final.reply.text).toMatch(/#1, #2, #3 and #4 may not look like you: likeness stayed under 50 even after I made them 2 more times/);
    expect(final.reply.text).toMatch(/4 credits refunded for them/);
    for (const m of final.reply.text.matchAll(/#\d likeness (\d+)/g)) expect(Number(m[1])).toBeLessThan(GATE.min);
    // Two regenerations of the four weak variants, each holding closer (0.85, then 1).
    expect(stubbornCalls.map((c) => [(c as PortraitTask).variants, (c as PortraitTask).identityStrength])).toEqual([
      [4, 0.7],
      [4, 0.85],
      [4, 1],
    ]);

    const job = await getJob(t.app.database.db, jobId);
    expect(job).toMatchObject({ likenessRetries: 2, gpuSeconds: 3 });
    expect(job!.params.likeness).toEqual({ min: GATE.min, weak: [0, 1, 2, 3], refunded: 4, retries: 2 });
    // The kept set spent the day's 2 free credits: this one was paid in full.
    const settled = [
      ['reserve', 'paid', -4],
      ['commit', 'paid', 0],
      ['likeness_refund', 'paid', 4],
    ];
    expect(await ledger(jobId)).toEqual(settled);

    // Exactly once: the queue delivering the job again, or a second completion, changes nothing.
    expect(await handleGpuJob({ db: t.app.database.db, store: t.app.store, backend: stubborn, styles: t.app.styles, delivery: t.app.deliveryQueue, logger, likeness: GATE }, jobId, { isFinal: true, signal: new AbortController().signal })).toBe('skipped');
    expect(await completeJob(t.app.database.db, jobId, [], { model: 'x', gpuSeconds: 0, costUsd: 0 }, { retries: 0, refund: 4, summary: null })).toBe(false);
    expect(await ledger(jobId)).toEqual(settled);

    // 👎 on this set: the verdict lands beside the scores; everything was refunded already, so nothing more is.
    await worker!.close();
    const notThem = await t.app.commands.handle(chatRequest({ command: 'notthem', target: jobId }));
    expect(notThem.text).not.toMatch(/refunded/);
    expect(await ledger(jobId)).toEqual([...settled, ['refund', 'paid', 0]]);
    expect((await resultsOfJob(t.app.database.db, jobId)).map((r) => r.verdict)).toEqual(['not_them', 'not_them', 'not_them', 'not_them']);

    const agreement = await likenessAgreement(t.app.database.db, new Date(Date.now() - 60_000), GATE.min);
    expect(agreement).toMatchObject({ sets: 2, rejectedLow: 1, keptHigh: 1, rejectedHigh: 0, keptLow: 0, rate: 1 });
  }, 180_000);

  it('refunds per weak variant: one of four stays weak → 1 credit back, from the paid pocket; 👎 then refunds the other 3', async () => {
    await grantCredits(t.app.database.db, (await account()).id, 10);
    // Variant 2 shows the stranger, and so does every regeneration.
    const { backend } = castingBackend((call, variant) => call > 1 || variant === 1);
    startGatedWorker(backend, { min: 50, retries: 1 });
    const jobId = await submit();

    const final = await outbox.finalFor(jobId, 60_000);
    expect(final.reply.text).toMatch(/#2 may not look like you: likeness stayed under 50 even after I made it once more holding closer to your photos\. 1 credit refunded for it\./);
    expect(await ledger(jobId)).toEqual([
      ['reserve', 'free', -2],
      ['reserve', 'paid', -2],
      ['commit', 'free', 0],
      ['commit', 'paid', 0],
      ['likeness_refund', 'paid', 1],
    ]);
    await worker!.close();
    const notThem = await t.app.commands.handle(chatRequest({ command: 'notthem', target: jobId }));
    expect(notThem.text).toMatch(/The 3 credits for the previous set were refunded/);
    const again = await t.app.commands.handle(chatRequest({ command: 'notthem', target: jobId }));
    expect(again.text).not.toMatch(/refunded/);
    const rows = await ledgerOfJob(t.app.database.db, jobId);
    expect(rows.reduce((sum, r) => sum + r.delta, 0)).toBe(0);
    expect(rows.filter((r) => r.reason === 'refund').map((r) => [r.pocket, r.delta])).toEqual([
      ['free', 2],
      ['paid', 1],
    ]);
  }, 90_000);

  it('restores again at higher fidelity when the face drifted, and reports the score', async () => {
    const { backend, calls } = castingBackend((call) => call === 1);
    startGatedWorker(backend);
    const jobId = await submit(astronaut, 'restore');

    const final = await outbox.finalFor(jobId, 60_000);
    const score = Number(/Likeness to the original: (\d+)\./.exec(final.reply.text)?.[1]);
    expect(score).toBeGreaterThanOrEqual(90);
    expect(final.reply.text).toMatch(/second time at higher fidelity/);
    expect(calls.map((c) => (c as RestoreTask).fidelity)).toEqual([0.9, 1]);
    const [result] = await resultsOfJob(t.app.database.db, jobId);
    expect(result!.likenessScore).toBe(score);
    expect(await storedLikeness(result!.artifactKey)).toBeGreaterThanOrEqual(90);
    expect(await getJob(t.app.database.db, jobId)).toMatchObject({ likenessRetries: 1, gpuSeconds: 2 });
    expect((await ledger(jobId)).map(([reason]) => reason)).toEqual(['reserve', 'commit']);
  }, 60_000);

  it('says so when a restored face still drifts after the retry', async () => {
    const { backend, calls } = castingBackend(() => true);
    startGatedWorker(backend);
    const jobId = await submit(astronaut, 'restore');
    const final = await outbox.finalFor(jobId, 60_000);
    expect(final.reply.text).toMatch(/Likeness to the original: \d+\. The face may have drifted from the original, even after a second pass at higher fidelity/);
    expect(calls).toHaveLength(2);
  }, 60_000);

  it('leaves placeholder images (the instant backend) and a gate set to 0 alone: nothing measured, nothing regenerated', async () => {
    await grantCredits(t.app.database.db, (await account()).id, 10);
    startGatedWorker(createInstantBackend());
    const instantJob = await submit();
    const instantFinal = await outbox.finalFor(instantJob);
    expect(instantFinal.reply.text).not.toMatch(/likeness/i);
    expect((await resultsOfJob(t.app.database.db, instantJob)).map((r) => r.likenessScore)).toEqual([null, null, null, null]);

    await worker!.close();
    const { backend, calls } = castingBackend((_call, variant) => variant === 0);
    startGatedWorker(backend, { min: 0, retries: 2 });
    const offJob = await submit();
    await outbox.finalFor(offJob, 60_000);
    expect(calls).toHaveLength(1);
    const job = await getJob(t.app.database.db, offJob);
    expect(job).toMatchObject({ likenessRetries: 0 });
    expect(job!.params.likeness).toBeUndefined();
    expect((await resultsOfJob(t.app.database.db, offJob)).every((r) => r.likenessScore === null)).toBe(true);
  }, 60_000);
});
