import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError } from '../config.js';

/**
 * Reads a JSON catalog named by an environment variable (`STYLES_FILE`, `MODELS_FILE`) and parses
 * it with `schema`. Throws ConfigError naming the variable and every problem, so a bad file stops
 * the process at start instead of failing jobs later.
 */
export function parseCatalogFile<S extends z.ZodType>(variable: string, path: string, schema: S): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError([`${variable}: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`]);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${variable}: ${i.path.join('.') || '(root)'}: ${i.message}`));
  return parsed.data;
}
