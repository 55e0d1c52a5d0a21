/**
 * ESRGAN on onnxruntime computes what the tfjs path computed: the committed fixture is a 64 x 80
 * crop of the sample photo and tfjs-layers' 4x output for it (made by bench/make-esrgan-reference.ts
 * before tfjs left the project, 8-bit). The tolerance, on 0..255 channel values: no pixel off by
 * more than 2, under 1 % of values off at all, and a PSNR of at least 50 dB.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { closeFaceModels } from '../../src/images/index.js';
import { superResolve } from '../../src/images/super-resolution.js';

/** The equivalence tolerance, also stated in the README's benchmark section. */
const ESRGAN_TOLERANCE = { maxAbsDiff: 2, changedFraction: 0.01, minPsnrDb: 50 };

afterAll(async () => {
  await closeFaceModels();
});

/** Max absolute difference, share of differing values and PSNR of two 8-bit buffers. */
function compare(a: Uint8Array, b: Uint8Array) {
  expect(a.length).toBe(b.length);
  let max = 0;
  let changed = 0;
  let squares = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > max) max = d;
    if (d > 0) changed++;
    squares += d * d;
  }
  const mse = squares / a.length;
  return { maxAbsDiff: max, changedFraction: changed / a.length, psnrDb: mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / mse) };
}

describe('ESRGAN on onnxruntime', () => {
  it('matches the tfjs reference output within the stated tolerance', async () => {
    const input = await readFile(new URL('../fixtures/esrgan/input-64x80.png', import.meta.url));
    const reference = await sharp(await readFile(new URL('../fixtures/esrgan/tfjs-output-256x320.png', import.meta.url))).raw().toBuffer();
    const enlarged = await superResolve(input, { budgetMs: 60_000 });
    expect(enlarged).toMatchObject({ width: 256, height: 320, channels: 3 });
    const diff = compare(enlarged!.data, reference);
    expect(diff.maxAbsDiff, JSON.stringify(diff)).toBeLessThanOrEqual(ESRGAN_TOLERANCE.maxAbsDiff);
    expect(diff.changedFraction, JSON.stringify(diff)).toBeLessThan(ESRGAN_TOLERANCE.changedFraction);
    expect(diff.psnrDb, JSON.stringify(diff)).toBeGreaterThanOrEqual(ESRGAN_TOLERANCE.minPsnrDb);
  });

  it('stops early on an aborted signal, with its reason', async () => {
    const input = await readFile(new URL('../fixtures/esrgan/input-64x80.png', import.meta.url));
    const controller = new AbortController();
    controller.abort(new Error('cancelled by the person'));
    await expect(superResolve(input, { budgetMs: 60_000, signal: controller.signal })).rejects.toThrow('cancelled by the person');
  });
});
