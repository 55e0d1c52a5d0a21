import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getJob } from '../../src/db/jobs.repository.js';
import { resultsOfJob } from '../../src/db/results.repository.js';
import type { GpuBackend, GpuResult } from '../../src/gpu/backend.js';
import { createInstantBackend } from '../../src/gpu/instant.backend.js';
import { agree, bufferSource, chatRequest, createTestApp, eventually, recordingDeliverer, type TestApp } from '../support/test-app.js';

const astronaut = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));

/** A backend whose run waits for `release()`; it notes whether it saw its job's signal abort. */
function gatedBackend(options: { honoursAbort: boolean }) {
  const instant = createInstantBackend({ delayMs: 0 });
  let release: () => void = () => undefined;
  const state = { started: false, sawAbort: false };
  const backend: GpuBackend = {
    name: 'gated',
    async run(task, signal): Promise<GpuResult> {
      state.started = true;
      await new Promise<void>((resolve, reject) => {
        release = resolve;
        signal.addEventListener('abort', () => {
          state.sawAbort = true;
          if (options.honoursAbort) reject(new Error('aborted'));
        });
      });
      return instant.run(task, signal);
    },
  };
  return { backend, state, release: () => release() };
}

describe('/cancel of a running job', () => {
  let t: TestApp;
  const outbox = recordingDeliverer();
  beforeEach(async () => {
    t = await createTestApp();
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    await agree(t.app);
  });
  afterEach(() => t.cleanup());

  const startPortrait = async (gated: ReturnType<typeof gatedBackend>) => {
    t.app.startGpuWorker(gated.backend);
    const reply = await t.app.commands.handle(chatRequest({ photos: [bufferSource(astronaut)] }));
    expect(reply.job, reply.text).toBeDefined();
    await eventually(async () => gated.state.started && (await getJob(t.app.database.db, reply.job!.id))?.status === 'running');
    return reply.job!.id;
  };
  const credits = async () => (await t.app.commands.handle(chatRequest({ command: 'credits' }))).text;

  it('stops the backend, refunds the credits and keeps nothing of the job', async () => {
    const gated = gatedBackend({ honoursAbort: true });
    const jobId = await startPortrait(gated);
    expect(await credits()).toContain('free today: 4 of 8');

    const reply = await t.app.commands.handle(chatRequest({ command: 'cancel' }));
    expect(reply.text).toBe('Cancelled 1 request; 4 credits refunded.');
    await eventually(async () => gated.state.sawAbort);
    expect(await credits()).toContain('free today: 8 of 8');
    const job = await eventually(async () => {
      const row = await getJob(t.app.database.db, jobId);
      return row?.status === 'cancelled' ? row : undefined;
    });
    expect(job.finishedAt).not.toBeNull();
    expect(await resultsOfJob(t.app.database.db, jobId)).toEqual([]);
    const ledger = await t.app.database.pool.query(`select reason, delta from credit_ledger where job_id = $1 order by id`, [jobId]);
    expect(ledger.rows).toEqual([
      { reason: 'reserve', delta: -4 },
      { reason: 'refund', delta: 4 },
    ]);
    expect((await t.app.commands.handle(chatRequest({ command: 'cancel' }))).text).toMatch(/^Nothing to cancel/);
  });

  it('/forget while a portrait is being made stops it, and nothing of the job is left', async () => {
    const gated = gatedBackend({ honoursAbort: false });
    const jobId = await startPortrait(gated);
    const inputs = (await getJob(t.app.database.db, jobId))!.inputs;
    const done = await t.app.commands.handle(chatRequest({ command: 'forget', target: 'confirm' }));
    expect(done.text).toMatch(/Everything of yours has been deleted/);
    await eventually(async () => gated.state.sawAbort);
    for (const key of inputs) expect(await t.app.store.exists(key)).toBe(false);
    // The worker finishes anyway and stores its outputs; finding the job cancelled, it removes them.
    gated.release();
    await eventually(async () => (await t.app.gpuQueue.holds(jobId)) === false);
    expect(await t.app.store.exists(`results/${jobId}/0.jpg`)).toBe(false);
    const job = (await getJob(t.app.database.db, jobId))!;
    expect(job).toMatchObject({ status: 'cancelled', accountId: null, conversation: null, inputs: [] });
    // Left for the retention run's sweep of forgotten jobs, in case a late write outlived the worker.
    expect(job.inputsPurgedAt).toBeNull();
    expect(await resultsOfJob(t.app.database.db, jobId)).toEqual([]);
  });

  it('a backend that finishes anyway: its outputs are discarded and nothing is delivered or charged', async () => {
    const gated = gatedBackend({ honoursAbort: false });
    const jobId = await startPortrait(gated);
    await t.app.commands.handle(chatRequest({ command: 'cancel' }));
    await eventually(async () => gated.state.sawAbort);
    gated.release();
    // The worker stores the outputs, finds the job cancelled, and removes them again.
    await eventually(async () => !(await t.app.store.exists(`results/${jobId}/0.jpg`)) && (await t.app.gpuQueue.holds(jobId)) === false);
    expect((await getJob(t.app.database.db, jobId))?.status).toBe('cancelled');
    expect(await resultsOfJob(t.app.database.db, jobId)).toEqual([]);
    expect(outbox.delivered.filter((d) => d.jobId === jobId && d.kind === 'final')).toEqual([]);
    expect(await credits()).toContain('free today: 8 of 8');
  });
});
