import { describe, expect, it } from 'vitest';
import { cosineSimilarity, likenessFromSimilarity, likenessScore } from '../../src/images/likeness-score.js';
import { assignReplacements, gateApplies, likenessRefund, retrySeed, weakVariants } from '../../src/jobs/likeness-gate.js';

const unit = (...v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v.map((x) => x / n));
};

describe('likeness score (pure)', () => {
  it('maps cosine similarity through the calibrated logistic: 0.58 is 50, strangers low, one person high', () => {
    expect(likenessFromSimilarity(0.58)).toBe(50);
    // Calibration medians (see likeness-score.ts): different people 0.44, one person in two photos 0.74, one photo retouched 0.96.
    expect(likenessFromSimilarity(0.44)).toBeLessThan(10);
    expect(likenessFromSimilarity(0.74)).toBeGreaterThan(90);
    expect(likenessFromSimilarity(0.96)).toBe(100);
    expect(likenessFromSimilarity(-1)).toBe(0);
    const curve = [0, 0.3, 0.5, 0.55, 0.6, 0.65, 0.7, 0.9].map(likenessFromSimilarity);
    expect([...curve].sort((a, b) => a - b)).toEqual(curve);
    for (const score of curve) expect(Number.isInteger(score)).toBe(true);
  });

  it('takes the best match over the references, and 0 when the variant shows no face', () => {
    const refs = [unit(1, 0, 0), unit(0, 1, 0)];
    expect(likenessScore(unit(0, 1, 0), refs)).toBe(100);
    expect(likenessScore(unit(0, 0, 1), refs)).toBe(likenessFromSimilarity(0));
    expect(likenessScore(undefined, refs)).toBe(0);
    expect(() => likenessScore(unit(1, 0, 0), [])).toThrow(RangeError);
    expect(cosineSimilarity([1, 0], [2, 0])).toBeCloseTo(1);
    expect(() => cosineSimilarity([1, 0], [1, 0, 0])).toThrow(RangeError);
  });
});

describe('likeness gate decisions (pure)', () => {
  it('finds weak variants and gives the best regenerated candidates to the weakest slots, only when they beat them', () => {
    expect(weakVariants([80, 12, 55, 49], 50)).toEqual([1, 3]);
    // Slots 1 (12) and 3 (49); candidates score 70 and 40: 70 replaces the weakest (slot 1); 40 does not beat 49.
    expect(assignReplacements([80, 12, 55, 49], [1, 3], [40, 70])).toEqual([[1, 1]]);
    expect(assignReplacements([80, 12, 55, 49], [1, 3], [90, 70])).toEqual([
      [1, 0],
      [3, 1],
    ]);
    expect(assignReplacements([80, 12], [1], [5])).toEqual([]);
  });

  it('refunds the weak share of the price, rounded, never more than the price', () => {
    expect(likenessRefund(4, 1, 4)).toBe(1);
    expect(likenessRefund(4, 4, 4)).toBe(4);
    expect(likenessRefund(3, 1, 4)).toBe(1);
    expect(likenessRefund(4, 0, 4)).toBe(0);
    expect(likenessRefund(0, 2, 4)).toBe(0);
    expect(likenessRefund(4, 9, 4)).toBe(4);
  });

  it('applies to portraits and restorations with LIKENESS_MIN above 0, and never to placeholder images', () => {
    const on = { min: 50, retries: 2 };
    expect(gateApplies(on, 'portrait', {})).toBe(true);
    expect(gateApplies(on, 'restore', {})).toBe(true);
    expect(gateApplies(on, 'upscale', {})).toBe(false);
    expect(gateApplies(on, 'portrait', { placeholders: true })).toBe(false);
    expect(gateApplies({ min: 0, retries: 2 }, 'portrait', {})).toBe(false);
    expect(gateApplies(undefined, 'portrait', {})).toBe(false);
  });

  it('re-seeds each regeneration differently', () => {
    const seeds = [0, 1, 2].map((attempt) => retrySeed(12345, attempt));
    expect(new Set(seeds).size).toBe(3);
    for (const seed of seeds) expect(seed).toBeLessThan(2 ** 31);
  });
});
