import { describe, expect, it } from 'vitest';
import { sizeSample, type RawPixels } from '../../src/images/size-sample.js';
import { stripLayout } from '../../src/images/jpeg-strips.js';

/** Raw pixels whose first two bytes say which 16-row band and which 256-px column they come from. */
function labelled(width: number, height: number): RawPixels {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 3;
      data[at] = Math.floor(y / 16) % 256;
      data[at + 1] = Math.floor(x / 256);
      data[at + 2] = (y % 16) * 16 + (x % 16);
    }
  }
  return { data, width, height, channels: 3 };
}

describe('sizeSample', () => {
  it('packs block-aligned runs of 16 x 256 px from all over the image into a 1280 px mosaic', () => {
    const raw = labelled(3072, 2048);
    const result = sizeSample(raw);
    if (!result) throw new Error('expected a sample');
    const { sample, scale } = result;
    expect(sample.width).toBe(1280);
    expect(sample.height % 16).toBe(0);
    expect(scale).toBeCloseTo((3072 * 2048) / (sample.width * sample.height), 6);
    // 6.3 MP is sampled at 400 kP (more than 1/29, since it is small), not more than 1/4.
    expect(sample.width * sample.height).toBeGreaterThanOrEqual(380_000);

    const bands = new Set<number>();
    const columns = new Set<number>();
    for (let top = 0; top < sample.height; top += 16) {
      for (let left = 0; left < sample.width; left += 256) {
        const origin = (top * sample.width + left) * 3;
        const band = sample.data[origin]!;
        const column = sample.data[origin + 1]!;
        bands.add(band);
        columns.add(column);
        // The whole run is one band and one column, and starts on a block boundary.
        for (let y = 0; y < 16; y++) {
          for (let x = 0; x < 256; x += 17) {
            const at = ((top + y) * sample.width + left + x) * 3;
            expect([sample.data[at], sample.data[at + 1], sample.data[at + 2]]).toEqual([band, column, y * 16 + (x % 16)]);
          }
        }
      }
    }
    // From the top to the bottom and from the left to the right of the image.
    expect(Math.min(...bands)).toBeLessThan(8);
    expect(Math.max(...bands)).toBeGreaterThan(120);
    expect(columns).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]));
  });

  it('is the same sample every time, and none for an image narrower than a run', () => {
    const raw = labelled(1024, 1024);
    expect(sizeSample(raw)!.sample.data.equals(sizeSample(raw)!.sample.data)).toBe(true);
    expect(sizeSample(labelled(200, 4000))).toBeUndefined();
  });
});

describe('stripLayout', () => {
  it('cuts whole MCU rows, one restart interval (at most 65535 MCUs) per strip', () => {
    // 8K: 480 MCUs a row, so at most 136 rows a strip: three strips even when two are asked for.
    expect(stripLayout(7680, 6144, 2)).toEqual({ rowsPerStrip: 2048, strips: 3 });
    expect(stripLayout(7680, 6144, 4)).toEqual({ rowsPerStrip: 1536, strips: 4 });
    expect(stripLayout(6144, 7680, 4)).toEqual({ rowsPerStrip: 1920, strips: 4 });
    expect(stripLayout(1000, 700, 3)).toEqual({ rowsPerStrip: 240, strips: 3 });
    expect(stripLayout(1000, 16, 4)).toBeUndefined(); // one MCU row: nothing to cut
  });
});
