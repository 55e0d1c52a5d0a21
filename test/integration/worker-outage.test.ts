/**
 * A GPU worker whose database does not answer: its jobs wait (without spending their attempts)
 * instead of running out of them while nothing can even record that they gave up. Seen first in
 * `npm run chaos` (scenario 4: an 8 s Postgres outage left jobs "running", their credits held).
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { getJob } from '../../src/db/jobs.repository.js';
import { ledgerOfJob } from '../../src/db/ledger.repository.js';
import { createInstantBackend } from '../../src/gpu/instant.backend.js';
import { createWorkerConnection } from '../../src/jobs/redis.js';
import { startGpuWorker } from '../../src/jobs/workers.js';
import { agree, bufferSource, chatRequest, createTestApp, recordingDeliverer, REDIS_URL, type TestApp } from '../support/test-app.js';

describe('a GPU worker while Postgres is down', () => {
  let t: TestApp;
  let unreachable: Database;
  beforeEach(async () => {
    // Three attempts 50 and 100 ms apart: without the wait, the job would be given up within a second.
    t = await createTestApp({ GPU_ATTEMPTS: '3', GPU_RETRY_BACKOFF_MS: '50' });
    await agree(t.app);
    unreachable = openDatabase('postgres://postgres@127.0.0.1:1/likeness', { max: 2 });
  });
  afterEach(async () => {
    await unreachable.close();
    await t.cleanup();
  });

  it('keeps the job waiting without spending attempts, and it runs once the database answers', async () => {
    const reply = await t.app.commands.handle(chatRequest({ photos: [bufferSource(await readFile(new URL('../../samples/astronaut.jpg', import.meta.url)))] }));
    const jobId = reply.job!.id;

    const connection = createWorkerConnection(REDIS_URL);
    const cutOff = startGpuWorker(
      { connection, prefix: t.config.queuePrefix, concurrency: 1, lockMs: 5_000, logger: t.app.logger },
      { db: unreachable.db, store: t.app.store, backend: createInstantBackend(), styles: t.app.styles, delivery: t.app.deliveryQueue, logger: t.app.logger },
    );
    await sleep(2_500);
    await cutOff.close();
    connection.disconnect();
    expect(await t.app.gpuQueue.holds(jobId)).toBe(true); // still the queue's: not failed for good
    expect(await getJob(t.app.database.db, jobId)).toMatchObject({ status: 'queued', attempts: 0 });

    const outbox = recordingDeliverer();
    t.app.startGpuWorker(createInstantBackend());
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    expect((await outbox.finalFor(jobId, 15_000)).reply.images).toHaveLength(4);
    expect(await getJob(t.app.database.db, jobId)).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect((await ledgerOfJob(t.app.database.db, jobId)).map((l) => l.reason)).toEqual(['reserve', 'commit']);
  });
});
