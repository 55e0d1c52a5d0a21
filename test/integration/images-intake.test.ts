import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readLimited } from '../../src/net/read-limited.js';
import type { PhotoSource } from '../../src/bots/core/request.js';
import { agree, bufferSource, chatRequest, createTestApp, type TestApp } from '../support/test-app.js';
import { heicGridBomb, png16BitRotated, pngHeaderClaiming } from '../support/hostile-images.js';

/**
 * The photo intake as a chat user meets it: a hostile corpus through /portrait, each refused with
 * its own code and friendly message, nothing charged, the process still serving; faces checked.
 */

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));
const astronaut = readFileSync(new URL('../../samples/astronaut.jpg', import.meta.url));
const MAX_PHOTO_BYTES = 1024 * 1024;

/** An animated GIF of flat colours (no face in any frame). */
function animatedGif(): Promise<Buffer> {
  const pixels = Buffer.alloc(64 * 64 * 3 * 3);
  for (let i = 0; i < 64 * 64 * 3; i++) pixels[i * 3 + Math.floor(i / (64 * 64))] = 200;
  return sharp(pixels, { raw: { width: 64, height: 192, channels: 3, pageHeight: 64 } }).gif().toBuffer();
}

/** A download that never ends: counts what it hands out, so the test can see reading stopped at the limit. */
function endlessDownload(): PhotoSource & { delivered: () => number } {
  let delivered = 0;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (;;) {
      delivered += 64 * 1024;
      yield new Uint8Array(64 * 1024);
    }
  }
  // No declared size: the limit has to be enforced while reading.
  return { label: 'huge.jpg', read: (maxBytes) => readLimited(chunks(), maxBytes), delivered: () => delivered };
}

describe('photo intake: a hostile corpus through /portrait', () => {
  let t: TestApp;
  beforeEach(async () => {
    // One person sends the whole corpus: the per-person photo limit (tested in request-life.test.ts) is raised here.
    t = await createTestApp({ MAX_PHOTO_BYTES: String(MAX_PHOTO_BYTES), PHOTO_REQUESTS_PER_10_MIN: '100' });
    await agree(t.app);
  });
  afterEach(() => t.cleanup());

  const counts = async () =>
    (await t.app.database.pool.query('select (select count(*) from jobs)::int as jobs, (select count(*) from credit_ledger)::int as ledger')).rows[0] as {
      jobs: number;
      ledger: number;
    };

  it('refuses each with its own code and message, charges nothing, and keeps serving', async () => {
    const truncated = astronaut.subarray(0, Math.floor(astronaut.length / 2));
    const heic = fixture('astronaut.heic');
    const endless = endlessDownload();
    const corpus: Array<[string, PhotoSource, string, RegExp]> = [
      ['header-only bomb (30000x30000 PNG)', bufferSource(pngHeaderClaiming(30_000, 30_000), 'bomb.png'), 'IMAGE_TOO_LARGE', /too many pixels \(over 50 megapixels\)/],
      ['truncated JPEG', bufferSource(truncated), 'CORRUPT_IMAGE', /seems damaged or incomplete/],
      ['text renamed .jpg', bufferSource(Buffer.from('dear diary, today I took no photos\n'.repeat(10)), 'diary.jpg'), 'UNSUPPORTED_FORMAT', /isn't a photo I can read/],
      ['SVG', bufferSource(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="800" height="800"><circle cx="400" cy="400" r="300"/></svg>'), 'face.jpg'), 'UNSUPPORTED_FORMAT', /isn't a photo I can read/],
      ['PDF', bufferSource(Buffer.from('%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n'), 'scan.jpg'), 'UNSUPPORTED_FORMAT', /isn't a photo I can read/],
      ['zero bytes', bufferSource(Buffer.alloc(0)), 'FILE_EMPTY', /is empty/],
      ['oversize download', endless, 'FILE_TOO_LARGE', /too large \(the limit is 1 MB\)/],
      ['animated GIF without a face', bufferSource(await animatedGif(), 'party.gif'), 'NO_FACE_FOUND', /couldn't find a face in photo 1/],
      ['truncated HEIC', bufferSource(heic.subarray(0, heic.length - 5000), 'IMG_0001.HEIC'), 'CORRUPT_IMAGE', /seems damaged or incomplete/],
      ['16-bit PNG, 7071 px square, EXIF-rotated', bufferSource(await png16BitRotated(7071), 'deep.png'), 'IMAGE_TOO_COSTLY', /takes too much work for me to open/],
      ['HEIC grid whose tiles (64 MP) hide behind a 16 MP canvas', bufferSource(heicGridBomb(heic, 2, 2, { outputWidth: 4001, outputHeight: 4001, tileSize: 4000 }), 'IMG_0003.HEIC'), 'IMAGE_TOO_COSTLY', /takes too much work for me to open/],
    ];
    for (const [name, source, code, message] of corpus) {
      const started = performance.now();
      const reply = await t.app.commands.handle(chatRequest({ photos: [source] }));
      expect(reply, name).toMatchObject({ tone: 'error', code });
      expect(reply.text, name).toMatch(message);
      if (code === 'IMAGE_TOO_LARGE' || code === 'IMAGE_TOO_COSTLY') expect(performance.now() - started, name).toBeLessThan(250);
    }
    // The endless download was cut off at the limit, not read to the end (there is no end).
    expect(endless.delivered()).toBeLessThanOrEqual(MAX_PHOTO_BYTES + 64 * 1024);

    const five = await t.app.commands.handle(chatRequest({ photos: [1, 2, 3, 4, 5].map(() => bufferSource(astronaut)) }));
    expect(five).toMatchObject({ tone: 'error', code: 'TOO_MANY_PHOTOS' });

    expect(await counts()).toEqual({ jobs: 0, ledger: 0 });

    // Still serving: a HEIC straight from a phone is accepted and queued.
    const ok = await t.app.commands.handle(chatRequest({ photos: [bufferSource(heic, 'IMG_0002.HEIC')] }));
    expect(ok.tone, ok.text).toBe('info');
    expect(ok.job).toBeDefined();
    expect((await counts()).jobs).toBe(1);
  });

  it('names the photo without a face, and stores nothing for it', async () => {
    const reply = await t.app.commands.handle(chatRequest({ photos: [bufferSource(astronaut), bufferSource(fixture('no-face-fruits.jpg'))] }));
    expect(reply).toMatchObject({ tone: 'error', code: 'NO_FACE_FOUND' });
    expect(reply.text).toContain('photo 2');
    expect(await counts()).toEqual({ jobs: 0, ledger: 0 });
    // Refused before anything was stored: no input photo on disk.
    const stored = await readdir(t.env.DATA_DIR!, { recursive: true }).catch(() => []);
    expect(stored.filter((f) => f.endsWith('.jpg'))).toEqual([]);
  });

  it('with several faces, uses the largest and says so', async () => {
    const reply = await t.app.commands.handle(chatRequest({ photos: [bufferSource(fixture('faces-group.jpg'))] }));
    expect(reply.tone).toBe('info');
    expect(reply.job).toBeDefined();
    expect(reply.text).toMatch(/That photo shows 3 faces\. I'm using the largest face/);

    const two = await t.app.commands.handle(chatRequest({ photos: [bufferSource(fixture('face-single.jpg')), bufferSource(fixture('faces-group.jpg'))] }));
    expect(two.text).toMatch(/Photo 2 shows 3 faces/);
  });

  it('restores photos without faces: faces are optional there', async () => {
    const reply = await t.app.commands.handle(chatRequest({ command: 'restore', photos: [bufferSource(fixture('no-face-building.jpg'))] }));
    expect(reply.tone).toBe('info');
    expect(reply.job).toBeDefined();
  });
});
