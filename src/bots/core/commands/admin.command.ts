import { resolveAccount, setBanned } from '../../../db/accounts.repository.js';
import { usageSince } from '../../../db/jobs.repository.js';
import { grantCredits } from '../../../db/ledger.repository.js';
import { AppError } from '../../../errors.js';
import type { CommandHandler } from '../context.js';
import { info, success } from '../reply.js';
import type { Platform } from '../request.js';

/** What an operator asked for with `/admin …`. */
export type AdminAction =
  | { action: 'grant'; user: { platform: string; userId: string }; amount: number }
  | { action: 'ban'; user: { platform: string; userId: string }; reason?: string }
  | { action: 'unban'; user: { platform: string; userId: string } }
  | { action: 'stats' };

export const ADMIN_USAGE = [
  'Admin commands:',
  '/admin grant <user> <credits> — add (or with a minus, remove) paid credits',
  '/admin ban <user> [reason] · /admin unban <user>',
  '/admin stats — jobs, GPU time and cost of the last 24 hours',
  '<user> is platform:id (telegram:123) or an id on this platform.',
].join('\n');

/** Pure: the words after `/admin` → an action, or undefined when they make no sense. */
export function parseAdminArgs(args: string, platform: Platform): AdminAction | undefined {
  const [verb, who, ...rest] = args.trim().split(/\s+/).filter(Boolean);
  const user = who ? parseUser(who, platform) : undefined;
  switch (verb?.toLowerCase()) {
    case 'stats':
      return { action: 'stats' };
    case 'grant': {
      const amount = Number(rest[0]);
      return user && Number.isInteger(amount) && amount !== 0 && Math.abs(amount) <= 1_000_000 ? { action: 'grant', user, amount } : undefined;
    }
    case 'ban':
      return user ? { action: 'ban', user, reason: rest.join(' ') || undefined } : undefined;
    case 'unban':
      return user ? { action: 'unban', user } : undefined;
    default:
      return undefined;
  }
}

function parseUser(text: string, platform: Platform): { platform: string; userId: string } | undefined {
  const match = /^(?:(telegram|discord|cli):)?([\w.-]+)$/.exec(text);
  if (!match) return undefined;
  return { platform: match[1] ?? platform, userId: match[2]! };
}

/** /admin: only for `ADMIN_IDS`; to anyone else it is an unknown command, so it reveals nothing. */
export const adminCommand: CommandHandler = async (ctx) => {
  const { request, deps } = ctx;
  if (!deps.config.adminIds.includes(`${request.platform}:${request.user.id}`)) throw new AppError('UNKNOWN_COMMAND', 'not an admin');
  const parsed = parseAdminArgs(String(request.options?.args ?? ''), request.platform);
  if (!parsed) return info(ADMIN_USAGE, { ephemeral: true });
  if (parsed.action === 'stats') {
    const usage = await usageSince(deps.db, new Date(ctx.now.getTime() - 24 * 3600 * 1000));
    const byStatus = Object.entries(usage.byStatus).map(([status, n]) => `${status} ${n}`).join(' · ') || 'none';
    return info(`Last 24 h — jobs: ${byStatus}\nGPU time: ${usage.gpuSeconds.toFixed(1)} s · cost: $${usage.costUsd.toFixed(2)}`, { ephemeral: true });
  }
  const name = `${parsed.user.platform}:${parsed.user.userId}`;
  const account = await resolveAccount(deps.db, parsed.user);
  ctx.logger.info({ admin: `${request.platform}:${request.user.id}`, action: parsed.action, user: name }, 'admin action');
  switch (parsed.action) {
    case 'grant':
      await grantCredits(deps.db, account.id, parsed.amount, `admin ${request.platform}:${request.user.id}`);
      return success(`${parsed.amount > 0 ? 'Granted' : 'Removed'} ${Math.abs(parsed.amount)} credits ${parsed.amount > 0 ? 'to' : 'from'} ${name}.`, { ephemeral: true });
    case 'ban':
      await setBanned(deps.db, account.id, true, parsed.reason);
      return success(`${name} is banned.`, { ephemeral: true });
    case 'unban':
      await setBanned(deps.db, account.id, false);
      return success(`${name} is no longer banned.`, { ephemeral: true });
  }
};
