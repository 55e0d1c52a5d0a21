/**
 * The whole app on GPU_BACKEND=replicate against a fake Replicate API on loopback: a chat request,
 * the queue, the GPU worker driving the real `replicate` client, the artifact store, the ledger.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getJob } from '../../src/db/jobs.repository.js';
import { ledgerOfJob } from '../../src/db/ledger.repository.js';
import { resultsOfJob } from '../../src/db/results.repository.js';
import { identityPhrase } from '../../src/gpu/styles.js';
import { imageInfo, readXmp } from '../../src/images/index.js';
import { FAKE_TOKEN, startFakeReplicate, type FakeReplicate } from '../support/fake-replicate.js';
import { agree, bufferSource, chatRequest, createTestApp, recordingDeliverer, type TestApp } from '../support/test-app.js';

let photos: Buffer[];
let fake: FakeReplicate;
/** The fake's clock runs ahead by this much: outputs can be made to expire without waiting. */
let ahead = 0;

beforeAll(async () => {
  const astronaut = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));
  // Three photos of one real face: as taken, mirrored, and cropped closer and a little brighter.
  photos = [
    astronaut,
    await sharp(astronaut).flop().jpeg({ quality: 90 }).toBuffer(),
    await sharp(astronaut).extract({ left: 56, top: 32, width: 400, height: 440 }).modulate({ brightness: 1.08 }).jpeg({ quality: 90 }).toBuffer(),
  ];
  fake = await startFakeReplicate({ clock: { now: () => Date.now() + ahead } });
});
afterAll(() => fake.close());

describe('portraits on Replicate, end to end', () => {
  let t: TestApp;
  let outbox: ReturnType<typeof recordingDeliverer>;
  beforeEach(async () => {
    t = await createTestApp({
      GPU_BACKEND: 'replicate',
      REPLICATE_API_TOKEN: FAKE_TOKEN,
      REPLICATE_BASE_URL: fake.url,
      GPU_POLL_INTERVAL_MS: '10',
      GPU_HTTP_RETRY_BASE_MS: '10',
      GPU_ATTEMPTS: '3',
      // The fake paints solid colours, no face: the likeness gate (test/integration/likeness-gate.test.ts) would regenerate every set.
      LIKENESS_MIN: '0',
    });
    await agree(t.app);
    outbox = recordingDeliverer();
    t.app.startGpuWorker();
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
  });
  afterEach(async () => {
    await t.cleanup();
    fake.reset();
    ahead = 0;
  });

  const submit = (command: 'portrait' | 'reroll' | 'notthem' = 'portrait', target?: string) =>
    t.app.commands.handle(chatRequest(command === 'portrait' ? { photos: photos.map((p, i) => bufferSource(p, `photo${i + 1}.jpg`)) } : { command, target }));
  const ledger = async (jobId: string) => (await ledgerOfJob(t.app.database.db, jobId)).map((l) => [l.reason, l.delta]);

  it('3 photos go to flux-2-pro as input_images; the 4 outputs land in our store; usage and one charge are recorded', async () => {
    const reply = await submit();
    expect(reply.job?.id).toBeDefined();
    const final = await outbox.finalFor(reply.job!.id);
    expect(final.reply.images).toHaveLength(4);

    const creates = fake.creates('black-forest-labs/flux-2-pro');
    expect(creates).toHaveLength(4);
    for (const c of creates) expect(c.body.input.input_images).toHaveLength(3);
    expect(fake.requests.filter((r) => r.path === '/v1/files' && r.method === 'POST')).toHaveLength(3);

    const job = await getJob(t.app.database.db, reply.job!.id);
    expect(job).toMatchObject({ status: 'succeeded', backend: 'replicate', model: 'black-forest-labs/flux-2-pro', attempts: 1 });
    expect(job!.gpuSeconds).toBeCloseTo(6);
    expect(Number(job!.costUsd)).toBeCloseTo(0.12);
    const results = await resultsOfJob(t.app.database.db, job!.id);
    expect(results).toHaveLength(4);
    for (const r of results) {
      const stored = await t.app.store.get(r.artifactKey);
      expect(await imageInfo(stored)).toMatchObject({ format: 'jpeg', width: 256, height: 320 });
      expect(await readXmp(stored)).toContain('trainedAlgorithmicMedia');
    }
    expect(await ledger(job!.id)).toEqual([
      ['reserve', -4],
      ['commit', 0],
    ]);

    // Replicate deletes outputs after about an hour; ours stay.
    ahead += 3_600_000 + 1_000;
    const output = [...fake.predictions.values()][0]!.output as string;
    expect((await fetch(output)).status).toBe(404);
    expect(await t.app.store.exists(results[0]!.artifactKey)).toBe(true);
  });

  it('500 twice, then success: one result set, one charge', async () => {
    fake.inject({ method: 'POST', path: /flux-2-pro\/predictions$/, status: 500, times: 2 });
    const reply = await submit();
    const final = await outbox.finalFor(reply.job!.id);
    expect(final.reply.images).toHaveLength(4);
    expect(await resultsOfJob(t.app.database.db, reply.job!.id)).toHaveLength(4);
    expect(outbox.delivered.filter((d) => d.jobId === reply.job!.id && d.kind === 'final')).toHaveLength(1);
    expect(await ledger(reply.job!.id)).toEqual([
      ['reserve', -4],
      ['commit', 0],
    ]);
  });

  it('422: not retried, refunded, and the user is told clearly', async () => {
    fake.inject({
      method: 'POST',
      path: /flux-2-pro\/predictions$/,
      status: 422,
      times: 4,
      body: { title: 'Input validation failed', detail: '- input.input_images.0: image could not be read', status: 422 },
    });
    const reply = await submit();
    const final = await outbox.finalFor(reply.job!.id);
    expect(final.reply).toMatchObject({ tone: 'error', code: 'GPU_REJECTED_INPUT' });
    expect(final.reply.text).toMatch(/couldn't use these photos/);
    expect(final.reply.text).toMatch(/refunded/);
    expect(await getJob(t.app.database.db, reply.job!.id)).toMatchObject({ status: 'failed', errorCode: 'GPU_REJECTED_INPUT', attempts: 1 });
    expect(fake.creates().length).toBeLessThanOrEqual(4);
    expect(await ledger(reply.job!.id)).toEqual([
      ['reserve', -4],
      ['refund', 4],
    ]);
  });

  it('🔄 keeps the photos and changes the seed; 👎 holds closer to the face by the style catalog step', async () => {
    const first = await submit();
    await outbox.finalFor(first.job!.id);
    const firstSeeds = fake.creates().map((c) => c.body.input.seed);
    const firstPrompt = String(fake.creates()[0]!.body.input.prompt);
    fake.reset();

    const again = await submit('reroll', first.job!.id);
    await outbox.finalFor(again.job!.id);
    const rerollSeeds = fake.creates().map((c) => c.body.input.seed);
    expect(rerollSeeds).not.toEqual(firstSeeds);
    expect(fake.creates().every((c) => (c.body.input.input_images as string[]).length === 3)).toBe(true);
    fake.reset();

    const notThem = await submit('notthem', first.job!.id);
    await outbox.finalFor(notThem.job!.id);
    const job = await getJob(t.app.database.db, notThem.job!.id);
    // Studio: 0.7, one 0.15 step → 0.85, which the prompt states plainly.
    expect(Number(job!.params.identityStrength)).toBeCloseTo(0.85);
    const strongerPrompt = String(fake.creates()[0]!.body.input.prompt);
    expect(strongerPrompt).toContain(identityPhrase(0.85));
    expect(firstPrompt).not.toContain(identityPhrase(0.85));
  });
});
