import { describe, expect, it } from 'vitest';
import { refusalFor, spendable, splitCharge, utcDay } from '../../src/bots/core/credit-rules.js';
import { estimateWaitSeconds, formatDuration } from '../../src/bots/core/wait-estimate.js';

describe('credit rules', () => {
  const rules = { freeDaily: 8, maxActiveJobs: 2 };
  it('spends free credits first, then paid ones', () => {
    expect(splitCharge(4, { paid: 10, freeLeft: 8 })).toEqual({ free: 4, paid: 0 });
    expect(splitCharge(4, { paid: 10, freeLeft: 1 })).toEqual({ free: 1, paid: 3 });
    expect(splitCharge(4, { paid: 3, freeLeft: 0 })).toBeUndefined();
    expect(splitCharge(0, { paid: 0, freeLeft: 0 })).toEqual({ free: 0, paid: 0 });
  });
  it('never counts a negative pocket as spendable', () => {
    expect(spendable({ paid: -2, freeLeft: 3 })).toBe(3);
  });
  it('refuses over the cap before looking at credits', () => {
    expect(refusalFor(4, { paid: 0, freeLeft: 0 }, 2, rules)?.code).toBe('TOO_MANY_ACTIVE_JOBS');
    expect(refusalFor(4, { paid: 0, freeLeft: 3 }, 1, rules)?.code).toBe('QUOTA_EXCEEDED');
    expect(refusalFor(4, { paid: 0, freeLeft: 4 }, 1, rules)).toBeUndefined();
  });
  it('days are UTC dates', () => {
    expect(utcDay(new Date('2026-11-24T23:59:59-05:00'))).toBe('2026-11-25');
  });
});

describe('wait estimates', () => {
  it('rounds up to whole batches of parallel work', () => {
    expect(estimateWaitSeconds(1, 2, 10)).toBe(10);
    expect(estimateWaitSeconds(3, 2, 10)).toBe(20);
    expect(estimateWaitSeconds(0, 2, 0.2)).toBe(1);
  });
  it('formats coarsely', () => {
    expect(formatDuration(40)).toBe('40 s');
    expect(formatDuration(300)).toBe('5 min');
    expect(formatDuration(7200)).toBe('2 h');
  });
});
