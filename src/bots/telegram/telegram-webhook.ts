import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BotError } from 'grammy';
import type { Update } from 'grammy/types';
import { readBody, respond, type RouteHandler } from '../../http/server.js';
import { isChatGone } from './telegram-chat.js';

/** Constant-time comparison of the webhook secret header. */
export function secretMatches(header: string | undefined, secret: string): boolean {
  if (header === undefined) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(header), digest(secret));
}

export interface WebhookRouteDeps {
  /** TELEGRAM_WEBHOOK_SECRET: requests without it are refused (401). */
  secret: string;
  bodyLimit: number;
  /** The bot's own update handling (grammY's `bot.handleUpdate`). */
  handleUpdate(update: Update): Promise<void>;
  /** False once the front-end stops: Telegram keeps the update and delivers it again. */
  accepting(): boolean;
  /** Updates being handled, so a stop can wait for them. */
  inFlight: Set<Promise<unknown>>;
  /** The front-end's one boundary for failed updates. */
  onFailure(error: unknown, updateId: number, chatId?: number): void;
}

/**
 * The route Telegram posts updates to in webhook mode. The answer tells Telegram what to do:
 * 2xx = handled (or never will be: a chat closed to the bot), anything else = deliver it again.
 */
export function createWebhookRoute(deps: WebhookRouteDeps): RouteHandler {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const header = req.headers['x-telegram-bot-api-secret-token'];
    if (!deps.secret || !secretMatches(Array.isArray(header) ? header[0] : header, deps.secret)) return respond(res, 401, 'unauthorized');
    // Stopping: Telegram keeps the update and delivers it again (to this or another instance).
    if (!deps.accepting()) return respond(res, 503, 'stopping');
    let update: Update;
    try {
      update = JSON.parse((await readBody(req, deps.bodyLimit)).toString('utf8')) as Update;
    } catch (error) {
      if (error instanceof SyntaxError) return respond(res, 400, 'not JSON');
      throw error;
    }
    if (typeof update?.update_id !== 'number') return respond(res, 400, 'not an update');
    const handling = deps.handleUpdate(update);
    deps.inFlight.add(handling);
    try {
      await handling;
    } catch (error) {
      const cause = error instanceof BotError ? error.error : error;
      deps.onFailure(cause, update.update_id, error instanceof BotError ? error.ctx.chat?.id : undefined);
      // A non-2xx answer makes Telegram deliver the update again; a closed chat will stay closed.
      if (!isChatGone(cause)) return respond(res, 500, 'update failed');
    } finally {
      deps.inFlight.delete(handling);
    }
    respond(res, 200, '');
  };
}
