import { randomBytes } from 'node:crypto';
import { AppError, isAppError } from '../../errors.js';
import {
  cancelCommand,
  consentCard,
  consentCommand,
  creditsCommand,
  forgetCommand,
  helpCommand,
  historyCommand,
  startCommand,
  stylesCommand,
} from './commands/account.commands.js';
import { adminCommand } from './commands/admin.command.js';
import { linkCommand } from './commands/link.command.js';
import { portraitCommand } from './commands/portrait.command.js';
import { notThemCommand, rerollCommand } from './commands/reroll.command.js';
import { restoreCommand } from './commands/restore.command.js';
import { upscaleCommand } from './commands/upscale.command.js';
import { catalogEntry } from './command-catalog.js';
import type { CommandHandler, CoreDeps } from './context.js';
import { apology, messageFor } from './messages.js';
import type { Reply } from './reply.js';
import type { CommandName, Request } from './request.js';

const HANDLERS: Record<CommandName, CommandHandler> = {
  portrait: portraitCommand,
  restore: restoreCommand,
  upscale: upscaleCommand,
  reroll: rerollCommand,
  notthem: notThemCommand,
  credits: creditsCommand,
  history: historyCommand,
  cancel: cancelCommand,
  forget: forgetCommand,
  styles: stylesCommand,
  help: helpCommand,
  consent: consentCommand,
  start: startCommand,
  admin: adminCommand,
  link: linkCommand,
};

/** The one entry point every front-end calls: a platform-neutral request in, a platform-neutral reply out. Never throws. */
export interface CommandLayer {
  handle(request: Request): Promise<Reply>;
}

export function createCommandLayer(deps: CoreDeps): CommandLayer {
  const now = deps.now ?? (() => new Date());
  return {
    async handle(request) {
      const logger = deps.logger.child({
        platform: request.platform,
        chatId: request.conversation.chatId,
        eventId: request.eventId,
        command: request.command,
      });
      try {
        const handler = HANDLERS[request.command];
        if (!handler) throw new AppError('UNKNOWN_COMMAND', 'unknown command');
        const entry = catalogEntry(request.command);
        // Before any download or lookup: a person sending photo after photo is slowed, refused ones counted too.
        if (request.photos?.length && deps.intakeLimit && !(await deps.intakeLimit.take(request.platform, request.user.id))) {
          throw new AppError('SLOW_DOWN', 'photo requests over the per-person limit', { details: { minutes: deps.intakeLimit.windowMinutes } });
        }
        // A code, a balance or a history said in a group is said to everyone there.
        if (entry.personal && request.conversation.shared) throw new AppError('PRIVATE_ONLY', 'personal answer asked for in a shared chat');
        const account = await deps.repos.accounts.resolve({ platform: request.platform, userId: request.user.id, displayName: request.user.displayName });
        if (entry.needsConsent) {
          if (account.bannedAt) throw new AppError('BANNED', 'banned account');
          if (!account.consentedAt) return consentCard();
        }
        return await handler({ deps, request, account, logger, now: now() });
      } catch (error) {
        return errorReply(error, logger);
      }
    },
  };
}

function errorReply(error: unknown, logger: CoreDeps['logger']): Reply {
  if (isAppError(error)) {
    logger.info({ code: error.code }, 'request refused');
    return { text: messageFor(error.code, error.details), tone: 'error', ephemeral: true, code: error.code };
  }
  if (isInfrastructureOutage(error)) {
    logger.warn({ err: error }, 'request failed: a backing service is unavailable');
    return { text: messageFor('SERVICE_UNAVAILABLE'), tone: 'error', ephemeral: true, code: 'SERVICE_UNAVAILABLE' };
  }
  const ref = randomBytes(4).toString('hex');
  logger.error({ err: error, ref }, 'request failed unexpectedly');
  return { text: apology(ref), tone: 'error', ephemeral: true };
}

/** Postgres or Redis unreachable: the user hears "temporarily unavailable", not an apology for a bug. */
function isInfrastructureOutage(error: unknown): boolean {
  const codes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '08006', '08001', '08003']);
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message, name } = e as { code?: string; message?: string; name?: string };
    if (code && codes.has(code)) return true;
    if (name === 'MaxRetriesPerRequestError') return true;
    if (message && /Connection terminated|Connection is closed|timeout exceeded when trying to connect/i.test(message)) return true;
  }
  return false;
}
