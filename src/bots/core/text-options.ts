import { SUBJECTS, type StyleCatalog } from '../../gpu/styles.js';
import type { CommandName, Request } from './request.js';

/**
 * Pure: the words after a typed command on a text front-end (a Telegram caption, the CLI) as the
 * command layer's options. The catalog's `usage` says what each command takes.
 */

/** `/portrait [me|someone|memorial] [style] [seed:N] [prompt…]` → options for the command layer. */
export function portraitOptionsFromArgs(args: string, isStyle: (id: string) => boolean): Record<string, string | undefined> {
  const words = args.split(/\s+/).filter(Boolean);
  const options: Record<string, string | undefined> = {};
  let used = 0;
  for (const word of words) {
    const lower = word.toLowerCase();
    const seed = /^seed[:=](\d+)$/.exec(lower);
    if (!options.subject && (SUBJECTS as readonly string[]).includes(lower)) options.subject = lower;
    else if (!options.style && isStyle(lower)) options.style = lower;
    else if (!options.seed && seed) options.seed = seed[1];
    else break;
    used += 1;
  }
  const prompt = words.slice(used).join(' ');
  if (prompt) options.prompt = prompt;
  return options;
}

/** `/restore colorize` (or colourise, color…) asks for colour. */
export function restoreOptionsFromArgs(args: string): Record<string, boolean> {
  return { colorize: /\bcolou?ri[sz]e\b|\bcolou?r\b/i.test(args) };
}

/** The options a typed command's words carry. */
export function optionsFromText(command: CommandName, args: string, styles: Pick<StyleCatalog, 'get'>): Request['options'] {
  switch (command) {
    case 'portrait':
      return portraitOptionsFromArgs(args, (id) => styles.get(id) !== undefined);
    case 'restore':
      return restoreOptionsFromArgs(args);
    case 'admin':
      return { args };
    case 'link':
      return { code: args };
    default:
      return {};
  }
}
