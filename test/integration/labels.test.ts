/**
 * Every output is labelled once, by the GPU handler, with what the backend reported: its credit
 * and its note reach the stored file (a catalog restoration's note used to be overwritten).
 */
import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GpuBackend } from '../../src/gpu/backend.js';
import { createLocalBackend } from '../../src/gpu/local.backend.js';
import { readXmp } from '../../src/images/index.js';
import { agree, bufferSource, chatRequest, createTestApp, recordingDeliverer, type TestApp } from '../support/test-app.js';

describe('labels', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
    await agree(t.app);
  });
  afterEach(() => t.cleanup());

  it("a backend's own credit and note reach the file, written once, and its 8K version keeps the note", async () => {
    const local = createLocalBackend();
    // Reports what the catalog backend reports for a CodeFormer restoration.
    const restorer: GpuBackend = {
      name: 'replicate',
      async run(task, signal) {
        const made = await local.run(task, signal);
        if (task.kind !== 'restore') return { ...made, model: 'nightmareai/real-esrgan', credit: 'Made with Likeness — AI-generated (nightmareai/real-esrgan)' };
        return { ...made, model: 'sczhou/codeformer', credit: 'Made with Likeness — AI-generated (sczhou/codeformer)', note: 'AI restoration of an original photograph' };
      },
    };
    const outbox = recordingDeliverer();
    t.app.startGpuWorker(restorer);
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
    const photo = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));
    const reply = await t.app.commands.handle(chatRequest({ command: 'restore', photos: [bufferSource(photo)] }));
    const final = await outbox.finalFor(reply.job!.id);
    const xmp = (await readXmp(await t.app.store.get(final.reply.images![1]!.artifactKey)))!;
    expect(xmp).toContain('trainedAlgorithmicMedia');
    expect(xmp).toContain('(sczhou/codeformer)');
    expect(xmp).toContain('AI restoration of an original photograph');
    expect(xmp.match(/Iptc4xmpExt:DigitalSourceType/g)).toHaveLength(1);

    const upscale = await t.app.commands.handle(chatRequest({ command: 'upscale', target: final.reply.images![1]!.resultId }));
    const eightK = await outbox.finalFor(upscale.job!.id);
    const upscaled = (await readXmp(await t.app.store.get(eightK.reply.images![0]!.artifactKey)))!;
    expect(upscaled).toContain('(nightmareai/real-esrgan)');
    expect(upscaled).toContain('AI restoration of an original photograph');
  });
});
