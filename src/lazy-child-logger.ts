import type { Logger } from './logger.js';

/**
 * A child logger made on first use: pino's child() runs its redaction over the bindings, which
 * over a burst of requests costs more than it is worth before anything needs logging.
 */
export interface LazyLogger {
  (): Logger;
  isLevelEnabled(level: string): boolean;
}

/** A {@link LazyLogger} for `parent.child(bindings)`. */
export function lazyChild(parent: Logger, bindings: () => Record<string, unknown>): LazyLogger {
  let child: Logger | undefined;
  return Object.assign(() => (child ??= parent.child(bindings())), { isLevelEnabled: (level: string) => parent.isLevelEnabled(level) });
}
