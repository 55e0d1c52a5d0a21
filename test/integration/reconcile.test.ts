import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimJob, getJob } from '../../src/db/jobs.repository.js';
import { ledgerOfJob } from '../../src/db/ledger.repository.js';
import { createInstantBackend } from '../../src/gpu/instant.backend.js';
import { reconcileJobs } from '../../src/jobs/reconcile.js';
import { agree, bufferSource, chatRequest, createTestApp, recordingDeliverer, type TestApp } from '../support/test-app.js';

const photo = async () => bufferSource(await readFile(new URL('../../samples/astronaut.jpg', import.meta.url)));

describe('reconciling jobs the queue lost', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
    await agree(t.app);
    await agree(t.app, 'u-2');
  });
  afterEach(() => t.cleanup());

  const deps = () => ({ db: t.app.database.db, gpuQueue: t.app.gpuQueue, delivery: t.app.deliveryQueue, logger: t.app.logger });
  const backdate = (jobId: string) =>
    t.app.database.pool.query(`update jobs set created_at = now() - interval '10 minutes', started_at = case when started_at is null then null else now() - interval '10 minutes' end where id = $1`, [jobId]);

  it('fails and refunds a running job the queue let go of, and tells the chat', async () => {
    const outbox = recordingDeliverer();
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    const reply = await t.app.commands.handle(chatRequest({ photos: [await photo()] }));
    const jobId = reply.job!.id;
    await claimJob(t.app.database.db, jobId, 'crashed-worker'); // the database says running…
    expect(await t.app.gpuQueue.remove(jobId)).toBe(true); // …the queue holds nothing (BullMQ failed it after stalls)
    await backdate(jobId);

    expect(await reconcileJobs(deps(), 60_000)).toEqual({ requeued: 0, failed: 1 });
    expect(await getJob(t.app.database.db, jobId)).toMatchObject({ status: 'failed', errorCode: 'GPU_FAILED' });
    expect((await ledgerOfJob(t.app.database.db, jobId)).map((l) => [l.reason, l.delta])).toEqual([
      ['reserve', -4],
      ['refund', 4],
    ]);
    expect((await outbox.finalFor(jobId)).reply.code).toBe('GPU_FAILED');
    expect(await reconcileJobs(deps(), 60_000)).toEqual({ requeued: 0, failed: 0 }); // once
  });

  it('queues again a queued job the queue never got, and leaves jobs it holds alone', async () => {
    const lost = (await t.app.commands.handle(chatRequest({ photos: [await photo()] }))).job!.id;
    const held = (await t.app.commands.handle(chatRequest({ user: { id: 'u-2' }, photos: [await photo()] }))).job!.id;
    expect(await t.app.gpuQueue.remove(lost)).toBe(true);
    await backdate(lost);
    await backdate(held);

    expect(await reconcileJobs(deps(), 60_000)).toEqual({ requeued: 1, failed: 0 });
    const outbox = recordingDeliverer();
    t.app.startGpuWorker(createInstantBackend());
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    for (const jobId of [lost, held]) expect((await outbox.finalFor(jobId)).reply.images).toHaveLength(4);
  });

  it('does not touch recent jobs', async () => {
    const jobId = (await t.app.commands.handle(chatRequest({ photos: [await photo()] }))).job!.id;
    await t.app.gpuQueue.remove(jobId);
    expect(await reconcileJobs(deps(), 60_000)).toEqual({ requeued: 0, failed: 0 });
  });
});
