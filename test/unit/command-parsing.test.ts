import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { messageFor } from '../../src/bots/core/messages.js';
import { parsePortraitOptions } from '../../src/bots/core/portrait-options.js';
import { createStyleCatalog, renderPrompt } from '../../src/gpu/styles.js';

const styles = createStyleCatalog();

describe('portrait options', () => {
  it('defaults to the studio style for yourself', () => {
    const o = parsePortraitOptions({}, styles);
    expect(o.style.id).toBe('studio');
    expect(o.subject).toBe('me');
  });
  it('gives a memorial the memorial style unless another is chosen', () => {
    expect(parsePortraitOptions({ subject: 'memorial' }, styles).style.id).toBe('memorial');
    expect(parsePortraitOptions({ subject: 'memorial', style: 'watercolour' }, styles).style.id).toBe('watercolour');
  });
  it('refuses unknown styles, subjects, long prompts and bad seeds with their codes', () => {
    expect(() => parsePortraitOptions({ style: 'cubism' }, styles)).toThrow(expect.objectContaining({ code: 'UNKNOWN_STYLE' }));
    expect(() => parsePortraitOptions({ subject: 'cat' }, styles)).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => parsePortraitOptions({ prompt: 'x'.repeat(301) }, styles)).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => parsePortraitOptions({ seed: '-1' }, styles)).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(parsePortraitOptions({ seed: '42', prompt: '  in   a garden ' }, styles)).toMatchObject({ seed: 42, prompt: 'in a garden' });
  });
});

describe('catalogs and messages', () => {
  it('ships at least 12 styles with subject-aware prompts', () => {
    expect(styles.list().length).toBeGreaterThanOrEqual(12);
    expect(renderPrompt(styles.get('memorial')!, 'memorial')).toContain('as they were in life');
  });
  it('has a friendly message for every error code', () => {
    for (const code of ERROR_CODES) {
      const text = messageFor(code, { photo: 2, max: 4, price: 4, balance: 1, active: 2, style: 'x', maxPixels: 50_000_000 });
      expect(text.length, code).toBeGreaterThan(10);
      expect(text, code).not.toMatch(/undefined|NaN|\[object/);
    }
  });
});
