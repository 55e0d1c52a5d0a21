import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { toDecodeError } from '../../src/images/decode-error.js';
import { createSlots } from '../../src/images/decode-slots.js';
import { heifDecodeCost } from '../../src/images/heif-cost.js';
import { heicGridBomb } from '../support/hostile-images.js';

/** The pure parts of the untrusted-decode caps: HEIF cost from boxes, the slots, the timeout's error code. */

const heic = readFileSync(new URL('../fixtures/astronaut.heic', import.meta.url));

function errorOf(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a throw');
}

describe('heifDecodeCost', () => {
  it('counts a plain HEIC as its own size', () => {
    expect(heifDecodeCost(heic)).toEqual({ pixels: 320 * 320, codedImages: 1 });
  });

  it('counts every tile of a grid, even where all tiles share the same bytes (issue 21 bomb)', () => {
    const bomb = heicGridBomb(heic, 15, 15);
    expect(bomb.length).toBeLessThan(32 * 1024);
    expect(heifDecodeCost(bomb)).toEqual({ pixels: 4800 * 4800, codedImages: 225 });
  });

  it('counts tiles, not the canvas the header shows, when the tiles overhang it', () => {
    const overhanging = heicGridBomb(heic, 2, 2, { outputWidth: 4001, outputHeight: 4001, tileSize: 4000 });
    expect(heifDecodeCost(overhanging)).toEqual({ pixels: 4 * 4000 * 4000, codedImages: 4 });
  });

  it('refuses a damaged structure as CORRUPT_IMAGE instead of reading out of bounds', () => {
    const bomb = heicGridBomb(heic, 3, 3);
    for (const cut of [0, 7, 20, 100, 300, 600]) expect(errorOf(() => heifDecodeCost(bomb.subarray(0, cut))).code, `cut at ${cut}`).toBe('CORRUPT_IMAGE');
    // A box claiming to be larger than the file.
    const lying = Buffer.from(heic);
    lying.writeUInt32BE(0x7fffffff, 28);
    expect(errorOf(() => heifDecodeCost(lying)).code).toBe('CORRUPT_IMAGE');
    expect(errorOf(() => heifDecodeCost(Buffer.from('not a heif file at all, just words'))).code).toBe('CORRUPT_IMAGE');
  });
});

describe('createSlots', () => {
  it('runs at most `size` tasks at once, the rest in arrival order', async () => {
    const slots = createSlots(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const task = (n: number) => async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 10));
      order.push(n);
      running--;
      if (n === 2) throw new Error('a failure frees its slot too');
      return n;
    };
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => slots.run(task(n))));
    expect(most).toBe(2);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
  });
});

describe('toDecodeError', () => {
  it("turns sharp's timeout into IMAGE_TOO_COSTLY, not a damaged file", () => {
    expect(toDecodeError(new Error('timeout: 10% complete')).code).toBe('IMAGE_TOO_COSTLY');
    expect(toDecodeError(new Error('VipsJpeg: Premature end of input file')).code).toBe('CORRUPT_IMAGE');
  });
});
