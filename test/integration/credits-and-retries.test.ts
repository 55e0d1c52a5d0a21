import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findAccountByIdentity } from '../../src/db/accounts.repository.js';
import { utcDay } from '../../src/bots/core/credit-rules.js';
import { getJob } from '../../src/db/jobs.repository.js';
import { currentBalance, grantCredits, ledgerOfJob } from '../../src/db/ledger.repository.js';
import { AppError } from '../../src/errors.js';
import type { GpuBackend } from '../../src/gpu/backend.js';
import { createInstantBackend } from '../../src/gpu/instant.backend.js';
import { agree, bufferSource, chatRequest, createTestApp, eventually, recordingDeliverer, type TestApp } from '../support/test-app.js';

const photo = async () => bufferSource(await readFile(new URL('../../samples/astronaut.jpg', import.meta.url)));

/** Fails `failures` times with a retryable GPU error, then answers like the instant backend. */
function flakyBackend(failures: number): GpuBackend & { calls: number } {
  const instant = createInstantBackend();
  const backend = {
    name: 'flaky',
    calls: 0,
    async run(task: Parameters<GpuBackend['run']>[0], signal: AbortSignal) {
      backend.calls += 1;
      if (backend.calls <= failures) throw new AppError('GPU_UNAVAILABLE', `hiccup ${backend.calls}`, { retryable: true });
      return instant.run(task, signal);
    },
  };
  return backend;
}

const ledgerRows = async (t: TestApp, jobId: string) => (await ledgerOfJob(t.app.database.db, jobId)).map((l) => [l.reason, l.delta]);

async function balanceOf(t: TestApp, user = 'u-1') {
  const account = await findAccountByIdentity(t.app.database.db, { platform: 'telegram', userId: user });
  return currentBalance(t.app.database.db, account!.id, t.config.credits.freeDaily, utcDay(new Date()));
}

describe('credits and retries', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp({ GPU_ATTEMPTS: '3' });
    await agree(t.app);
  });
  afterEach(() => t.cleanup());

  it('a backend that fails twice then succeeds gives one result set and one charge', async () => {
    const backend = flakyBackend(2);
    const outbox = recordingDeliverer();
    t.app.startGpuWorker(backend);
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));

    const reply = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
    const final = await outbox.finalFor(reply.job!.id);
    expect(final.reply.images).toHaveLength(4);
    expect(backend.calls).toBe(3);

    const job = await getJob(t.app.database.db, reply.job!.id);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 3 });
    expect(await ledgerRows(t, job!.id)).toEqual([
      ['reserve', -4],
      ['commit', 0],
    ]);
    expect(outbox.delivered.filter((d) => d.jobId === job!.id && d.kind === 'final')).toHaveLength(1);
    // Fast jobs just arrive: no "working on it" first.
    expect(outbox.delivered.filter((d) => d.jobId === job!.id && d.kind === 'progress')).toHaveLength(0);
  });

  it('a slow job tells the chat it has started, once, before the results', async () => {
    const outbox = recordingDeliverer();
    t.app.startGpuWorker(createInstantBackend({ delayMs: 1_500 }));
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    const reply = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
    await outbox.finalFor(reply.job!.id);
    const kinds = outbox.delivered.filter((d) => d.jobId === reply.job!.id).map((d) => [d.kind, d.reply.text]);
    expect(kinds).toEqual([
      ['progress', '⏳ Making your portraits…'],
      ['final', expect.stringContaining('Here are your portraits')],
    ]);
  });

  it('a backend that always fails: the job fails after its attempts, is refunded, and the user is told', async () => {
    const backend = flakyBackend(Infinity);
    const outbox = recordingDeliverer();
    t.app.startGpuWorker(backend);
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));

    const reply = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
    const final = await outbox.finalFor(reply.job!.id);
    expect(final.reply).toMatchObject({ tone: 'error', code: 'GPU_UNAVAILABLE' });
    expect(final.reply.text).toMatch(/refunded/);
    expect(backend.calls).toBe(3);
    expect(await getJob(t.app.database.db, reply.job!.id)).toMatchObject({ status: 'failed', errorCode: 'GPU_UNAVAILABLE' });
    expect(await ledgerRows(t, reply.job!.id)).toEqual([
      ['reserve', -4],
      ['refund', 4],
    ]);
    expect(await balanceOf(t)).toEqual({ paid: 0, freeLeft: 8 });
  });

  it('when every attempt fails while recording the result, the job is failed, refunded and the user told', async () => {
    const outbox = recordingDeliverer();
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    const reply = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
    // Break the results table: the backend succeeds, recording its outputs cannot.
    await t.app.database.pool.query('alter table results rename to results_unavailable');
    t.app.startGpuWorker(createInstantBackend());
    const final = await outbox.finalFor(reply.job!.id);
    expect(final.reply).toMatchObject({ tone: 'error', code: 'GPU_FAILED' });
    expect(await getJob(t.app.database.db, reply.job!.id)).toMatchObject({ status: 'failed', attempts: 3 });
    expect(await ledgerRows(t, reply.job!.id)).toEqual([
      ['reserve', -4],
      ['refund', 4],
    ]);
    await t.app.database.pool.query('alter table results_unavailable rename to results');
  });

  it('a bad-input GPU error is not retried, and is refunded', async () => {
    let calls = 0;
    const rejecting: GpuBackend = {
      name: 'rejecting',
      run: async () => {
        calls += 1;
        throw new AppError('GPU_REJECTED_INPUT', 'model refused the photo');
      },
    };
    const outbox = recordingDeliverer();
    t.app.startGpuWorker(rejecting);
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    const reply = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
    const final = await outbox.finalFor(reply.job!.id);
    expect(final.reply.code).toBe('GPU_REJECTED_INPUT');
    expect(calls).toBe(1);
    expect(await balanceOf(t)).toEqual({ paid: 0, freeLeft: 8 });
  });

  it('the same platform event twice makes one job and one reservation, even concurrently', async () => {
    const request = chatRequest({ eventId: 'update-4242', photos: [await photo()] });
    const [first, second] = await Promise.all([t.app.commands.handle(request), t.app.commands.handle(request)]);
    const third = await t.app.commands.handle(request);
    expect(first.job?.id).toBeDefined();
    expect(second.job?.id).toBe(first.job!.id);
    expect(third.job?.id).toBe(first.job!.id);
    const { rows } = await t.app.database.pool.query(`select count(*)::int as n from jobs`);
    expect(rows[0].n).toBe(1);
    expect(await ledgerRows(t, first.job!.id)).toEqual([['reserve', -4]]);
    expect(await t.app.gpuQueue.position(first.job!.id)).toBe(1);
  });

  it('over the active-job cap: refused with a clear message and nothing reserved', async () => {
    await grantCredits(t.app.database.db, (await findAccountByIdentity(t.app.database.db, { platform: 'telegram', userId: 'u-1' }))!.id, 20);
    const a = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
    const b = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
    const c = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
    expect(a.job && b.job).toBeTruthy();
    expect(c).toMatchObject({ tone: 'error', code: 'TOO_MANY_ACTIVE_JOBS' });
    expect(c.text).toMatch(/already have 2 requests in progress/);
    expect(await balanceOf(t)).toEqual({ paid: 20, freeLeft: 0 });
    const { rows } = await t.app.database.pool.query(`select count(*)::int as n from credit_ledger where reason = 'reserve'`);
    expect(rows[0].n).toBe(2);
  });

  it('out of credits: refused before any work, with the price and the balance', async () => {
    const outbox = recordingDeliverer();
    t.app.startGpuWorker(createInstantBackend());
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    for (let i = 0; i < 2; i++) {
      const reply = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
      await outbox.finalFor(reply.job!.id);
    }
    const refused = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
    expect(refused).toMatchObject({ tone: 'error', code: 'QUOTA_EXCEEDED' });
    expect(refused.text).toContain('needs 4 credits and you have 0');
    const { rows } = await t.app.database.pool.query(`select count(*)::int as n from jobs`);
    expect(rows[0].n).toBe(2);
  });

  it('/cancel cancels waiting jobs and refunds them', async () => {
    const reply = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
    const cancelled = await t.app.commands.handle(chatRequest({ command: 'cancel' }));
    expect(cancelled.text).toBe('Cancelled 1 request; 4 credits refunded.');
    expect(await getJob(t.app.database.db, reply.job!.id)).toMatchObject({ status: 'cancelled' });
    expect(await t.app.gpuQueue.position(reply.job!.id)).toBe(0);
    expect(await balanceOf(t)).toEqual({ paid: 0, freeLeft: 8 });
    // A worker starting later finds nothing to do for it.
    const outbox = recordingDeliverer();
    t.app.startGpuWorker(createInstantBackend());
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    await new Promise((r) => setTimeout(r, 300));
    expect(outbox.delivered).toHaveLength(0);
  });

  it('"not them" re-rolls with stronger identity and refunds the rejected set exactly once', async () => {
    const outbox = recordingDeliverer();
    t.app.startGpuWorker(createInstantBackend());
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    const first = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
    await outbox.finalFor(first.job!.id);
    expect(await balanceOf(t)).toEqual({ paid: 0, freeLeft: 4 });

    const notThem = await t.app.commands.handle(chatRequest({ command: 'notthem', target: first.job!.id }));
    expect(notThem.text).toMatch(/4 credits for the previous set were refunded/);
    const second = await outbox.finalFor(notThem.job!.id);
    expect(second.reply.images).toHaveLength(4);
    const reroll = await getJob(t.app.database.db, notThem.job!.id);
    const parent = await getJob(t.app.database.db, first.job!.id);
    expect(reroll!.parentJobId).toBe(first.job!.id);
    expect(Number(reroll!.params.identityStrength)).toBeCloseTo(Number(parent!.params.identityStrength) + 0.15);
    expect(reroll!.inputs).toEqual(parent!.inputs);

    // Pressing 👎 on the same set again re-rolls but refunds nothing more.
    const again = await t.app.commands.handle(chatRequest({ command: 'notthem', target: first.job!.id }));
    expect(again.text).not.toMatch(/refunded/);
    await outbox.finalFor(again.job!.id);
    expect(await ledgerRows(t, first.job!.id)).toEqual([
      ['reserve', -4],
      ['commit', 0],
      ['refund', 4],
    ]);
    // 8 free − 4 (first) + 4 (refund) − 4 (re-roll) − 4 (second re-roll) = 0
    await eventually(async () => (await balanceOf(t)).freeLeft === 0);
  });

  it('👎 on each new set does not make portraits free: one refund per original request, however the sets were made (issue 21, point 3)', async () => {
    const outbox = recordingDeliverer();
    t.app.startGpuWorker(createInstantBackend());
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    await grantCredits(t.app.database.db, (await findAccountByIdentity(t.app.database.db, { platform: 'telegram', userId: 'u-1' }))!.id, 40);
    const first = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
    await outbox.finalFor(first.job!.id);
    const sets = [first.job!.id];
    const refunds: boolean[] = [];
    // The attack: 👎 the newest set again and again, keeping every picture.
    for (let round = 0; round < 4; round++) {
      const notThem = await t.app.commands.handle(chatRequest({ command: 'notthem', target: sets.at(-1)! }));
      refunds.push(/refunded/.test(notThem.text));
      await outbox.finalFor(notThem.job!.id);
      sets.push(notThem.job!.id);
    }
    // And from the side: 🔄 on the first set, then 👎 on that.
    const again = await t.app.commands.handle(chatRequest({ command: 'reroll', target: first.job!.id }));
    await outbox.finalFor(again.job!.id);
    const sideways = await t.app.commands.handle(chatRequest({ command: 'notthem', target: again.job!.id }));
    await outbox.finalFor(sideways.job!.id);
    refunds.push(/refunded/.test(sideways.text));

    expect(refunds).toEqual([true, false, false, false, false]);
    // 7 sets made (1 + 4 + 1 + 1), 4 credits each, one set refunded: 24 of the 40 + 8 free spent.
    const balance = await balanceOf(t);
    expect(balance.paid + balance.freeLeft).toBe(40 + 8 - 7 * 4 + 4);
  });

  it("someone else cannot upscale or re-roll a person's results", async () => {
    const outbox = recordingDeliverer();
    t.app.startGpuWorker(createInstantBackend());
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    const first = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
    const final = await outbox.finalFor(first.job!.id);
    await agree(t.app, 'u-2');
    const stranger = { user: { id: 'u-2' } };
    const upscale = await t.app.commands.handle(chatRequest({ ...stranger, command: 'upscale', target: final.reply.images![0]!.resultId }));
    expect(upscale.code).toBe('NOT_YOURS');
    const reroll = await t.app.commands.handle(chatRequest({ ...stranger, command: 'reroll', target: first.job!.id }));
    expect(reroll.code).toBe('NOT_YOURS');
    const bogus = await t.app.commands.handle(chatRequest({ ...stranger, command: 'upscale', target: 'not-an-id' }));
    expect(bogus.code).toBe('RESULT_NOT_FOUND');
  });
});
