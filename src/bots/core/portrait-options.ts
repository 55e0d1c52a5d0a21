import { AppError } from '../../errors.js';
import { SUBJECTS, type Style, type StyleCatalog, type Subject } from '../../gpu/styles.js';
import { PROMPT_MAX as MAX_PROMPT } from '../../jobs/job-params.js';

export interface PortraitOptions {
  style: Style;
  subject: Subject;
  prompt?: string;
  seed?: number;
}

/** Pure: turns raw request options into portrait settings, or a BAD_OPTION / UNKNOWN_STYLE error. */
export function parsePortraitOptions(options: Record<string, string | boolean | undefined>, styles: StyleCatalog): PortraitOptions {
  const subjectRaw = String(options.subject ?? 'me').toLowerCase();
  if (!(SUBJECTS as readonly string[]).includes(subjectRaw)) {
    throw new AppError('BAD_OPTION', 'bad subject', { details: { reason: 'Subject must be me, someone or memorial.' } });
  }
  const subject = subjectRaw as Subject;
  // A memorial without a chosen style gets the gentle memorial style.
  const styleId = typeof options.style === 'string' && options.style ? options.style : subject === 'memorial' && styles.get('memorial') ? 'memorial' : styles.defaultId;
  const style = styles.get(styleId);
  if (!style) throw new AppError('UNKNOWN_STYLE', 'unknown style', { details: { style: styleId } });

  const prompt = typeof options.prompt === 'string' ? options.prompt.trim().replace(/\s+/g, ' ') : undefined;
  if (prompt && prompt.length > MAX_PROMPT) {
    throw new AppError('BAD_OPTION', 'prompt too long', { details: { reason: `Please keep the prompt under ${MAX_PROMPT} characters.` } });
  }
  let seed: number | undefined;
  if (options.seed !== undefined && options.seed !== '') {
    seed = Number(options.seed);
    if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 31 - 1) {
      throw new AppError('BAD_OPTION', 'bad seed', { details: { reason: 'The seed must be a whole number from 0 to 2147483647.' } });
    }
  }
  return { style, subject, prompt: prompt || undefined, seed };
}

/** A fresh random seed for a variant set. */
export const randomSeed = (): number => Math.floor(Math.random() * 2 ** 31);
