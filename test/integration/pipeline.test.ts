import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { utcDay } from '../../src/bots/core/credit-rules.js';
import { getJob } from '../../src/db/jobs.repository.js';
import { currentBalance, ledgerOfJob } from '../../src/db/ledger.repository.js';
import { resultsOfJob } from '../../src/db/results.repository.js';
import { findAccountByIdentity } from '../../src/db/accounts.repository.js';
import { createLocalBackend } from '../../src/gpu/local.backend.js';
import { agree, bufferSource, chatRequest, createTestApp, eventually, recordingDeliverer, type TestApp } from '../support/test-app.js';

const astronaut = () => readFile(new URL('../../samples/astronaut.jpg', import.meta.url));

describe('portrait pipeline, end to end through the command layer, queue and workers', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp({ GPU_BACKEND: 'local' });
  });
  afterEach(() => t.cleanup());

  it('turns one photo into 4 portraits, records them, and balances the ledger; a favourite becomes 8K once', async () => {
    const outbox = recordingDeliverer();
    await agree(t.app);

    const reply = await t.app.commands.handle(chatRequest({ photos: [bufferSource(await astronaut())], options: { style: 'bw' } }));
    expect(reply.tone).toBe('info');
    expect(reply.text).toMatch(/queued — position 1, about \d+ s/);
    const jobId = reply.job!.id;
    // Workers start after the request, so it is seen waiting in line first.
    t.app.startGpuWorker(createLocalBackend());
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));

    const final = await outbox.finalFor(jobId);
    expect(final.reply.tone).toBe('success');
    expect(final.reply.images).toHaveLength(4);
    expect(final.reply.text).toContain('Local preview');
    expect(final.conversation).toMatchObject({ platform: 'telegram', chatId: 'chat-1' });

    // delivered_at is written just after the deliverer returns.
    const job = await eventually(async () => {
      const row = await getJob(t.app.database.db, jobId);
      return row?.deliveredAt ? row : undefined;
    });
    expect(job).toMatchObject({ status: 'succeeded', kind: 'portrait', style: 'bw', backend: 'local', model: 'local/preview', price: 4 });
    expect(job!.gpuSeconds).toBeGreaterThan(0);

    const results = await resultsOfJob(t.app.database.db, jobId);
    expect(results.map((r) => r.variant)).toEqual([0, 1, 2, 3]);
    expect(results.every((r) => r.platformMessageId?.startsWith('msg-'))).toBe(true);
    for (const r of results) {
      const meta = await sharp(await t.app.store.get(r.artifactKey)).metadata();
      expect(meta).toMatchObject({ format: 'jpeg', width: r.width, height: r.height });
      // Black & white style: the channels agree.
      const stats = await sharp(await t.app.store.get(r.artifactKey)).stats();
      expect(Math.abs(stats.channels[0]!.mean - stats.channels[2]!.mean)).toBeLessThan(2);
    }

    const ledger = await ledgerOfJob(t.app.database.db, jobId);
    expect(ledger.map((l) => [l.reason, l.delta])).toEqual([
      ['reserve', -4],
      ['commit', 0],
    ]);
    const account = await findAccountByIdentity(t.app.database.db, { platform: 'telegram', userId: 'u-1' });
    expect(await currentBalance(t.app.database.db, account!.id, 8, utcDay(new Date()))).toEqual({ paid: 0, freeLeft: 4 });

    // React to variant 3: the 8K file.
    const upscaleReply = await t.app.commands.handle(chatRequest({ command: 'upscale', target: results[2]!.id }));
    expect(upscaleReply.job).toBeDefined();
    const upscaled = await outbox.finalFor(upscaleReply.job!.id);
    expect(upscaled.reply.images).toHaveLength(1);
    expect(upscaled.reply.images![0]!.as).toBe('document');
    const big = await sharp(await t.app.store.get(upscaled.reply.images![0]!.artifactKey)).metadata();
    expect(Math.max(big.width!, big.height!)).toBe(7680);

    // The same favourite again (a second reaction): no second job, no second charge.
    const again = await t.app.commands.handle(chatRequest({ command: 'upscale', target: results[2]!.id }));
    expect(again.job).toBeUndefined();
    expect(again.text).toMatch(/already done/);
    expect(await currentBalance(t.app.database.db, account!.id, 8, utcDay(new Date()))).toEqual({ paid: 0, freeLeft: 2 });
  });

  it('refuses a corrupt photo with a clear message, charging nothing and creating no job', async () => {
    await agree(t.app);
    const jpeg = await astronaut();
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length / 3));
    const reply = await t.app.commands.handle(chatRequest({ photos: [bufferSource(jpeg), bufferSource(truncated)] }));
    expect(reply).toMatchObject({ tone: 'error', code: 'CORRUPT_IMAGE' });
    expect(reply.text).toContain('Photo 2');

    const text = await t.app.commands.handle(chatRequest({ photos: [bufferSource(Buffer.from('hello, not an image'))] }));
    expect(text).toMatchObject({ tone: 'error', code: 'UNSUPPORTED_FORMAT' });

    const { rows } = await t.app.database.pool.query('select (select count(*) from jobs)::int as jobs, (select count(*) from credit_ledger)::int as ledger');
    expect(rows[0]).toEqual({ jobs: 0, ledger: 0 });
  });

  it('asks for consent before the first portrait', async () => {
    const reply = await t.app.commands.handle(chatRequest({ photos: [bufferSource(await astronaut())] }));
    expect(reply.code).toBe('CONSENT_REQUIRED');
    expect(reply.buttons?.[0]?.[0]).toMatchObject({ command: 'consent' });
  });
});
