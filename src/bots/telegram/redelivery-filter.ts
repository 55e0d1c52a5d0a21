import type { Context, MiddlewareFn } from 'grammy';
import type { Logger } from '../../logger.js';
import type { TelegramState } from './telegram-state.js';

/**
 * grammY middleware: an update seen before (same update_id, from any process), or replayed after
 * Telegram's redelivery window (see telegram-state.ts for how), is dropped; one
 * whose handling failed is forgotten again, so Telegram's redelivery gets another try. When the
 * shared state cannot answer, the update is handled: a rare duplicate beats a lost request
 * (and the command layer's idempotency key still makes one job of it).
 */
export function dropRedeliveredUpdates(state: Pick<TelegramState, 'firstSeen' | 'unsee'>, logger: Logger): MiddlewareFn<Context> {
  return async (ctx, next) => {
    const updateId = ctx.update.update_id;
    const first = await state.firstSeen(updateId).catch((error: unknown) => {
      logger.warn({ err: error, updateId }, 'could not check for a redelivered update');
      return true;
    });
    if (!first) {
      logger.info({ updateId }, 'redelivered update ignored');
      return;
    }
    try {
      await next();
    } catch (error) {
      await state.unsee(updateId).catch(() => undefined);
      throw error;
    }
  };
}
