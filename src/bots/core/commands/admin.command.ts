import { AppError } from '../../../errors.js';
import type { CommandHandler } from '../context.js';
import type { LikenessAgreement, UsageLine, UsageReport } from '../repositories.js';
import { info, success } from '../reply.js';
import type { Platform } from '../request.js';

/** What an operator asked for with `/admin …`. */
export type AdminAction =
  | { action: 'grant'; user: { platform: string; userId: string }; amount: number }
  | { action: 'ban'; user: { platform: string; userId: string }; reason?: string }
  | { action: 'unban'; user: { platform: string; userId: string } }
  | { action: 'stats'; days: number };

export const ADMIN_USAGE = [
  'Admin commands:',
  '/admin grant <user> <credits> — add (or with a minus, remove) paid credits',
  '/admin ban <user> [reason] · /admin unban <user>',
  '/admin stats [days] — jobs, GPU time and cost by day, backend and user (default: 7 days)',
  '<user> is platform:id (telegram:123) or an id on this platform.',
].join('\n');

const DEFAULT_STATS_DAYS = 7;
const MAX_STATS_DAYS = 90;

/** Pure: the words after `/admin` → an action, or undefined when they make no sense. */
export function parseAdminArgs(args: string, platform: Platform): AdminAction | undefined {
  const [verb, who, ...rest] = args.trim().split(/\s+/).filter(Boolean);
  const user = who ? parseUser(who, platform) : undefined;
  switch (verb?.toLowerCase()) {
    case 'stats': {
      const days = who === undefined ? DEFAULT_STATS_DAYS : Number(who);
      return Number.isInteger(days) && days >= 1 && days <= MAX_STATS_DAYS ? { action: 'stats', days } : undefined;
    }
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
  const admin = `${request.platform}:${request.user.id}`;
  if (parsed.action === 'stats') {
    ctx.logger.info({ admin, action: 'stats', days: parsed.days }, 'admin action');
    // Whole UTC days: "7 days" is today and the six before it.
    const since = new Date(Date.UTC(ctx.now.getUTCFullYear(), ctx.now.getUTCMonth(), ctx.now.getUTCDate() - (parsed.days - 1)));
    const [usage, agreement] = await Promise.all([deps.repos.reports.usage(since), deps.repos.reports.likenessAgreement(since, deps.config.likeness?.min)]);
    return info([formatUsageReport(usage, parsed.days), formatAgreement(agreement)].join('\n'), { ephemeral: true });
  }
  const name = `${parsed.user.platform}:${parsed.user.userId}`;
  const account = await deps.repos.accounts.resolve(parsed.user);
  ctx.logger.info({ admin, action: parsed.action, user: name, ...(parsed.action === 'grant' ? { amount: parsed.amount } : {}) }, 'admin action');
  switch (parsed.action) {
    case 'grant': {
      // The platform event is the grant's identity: a redelivered command (webhook retry, a
      // second process) finds its grant written and writes nothing; the answer is the same.
      const key = `${request.platform}:${request.eventId}`;
      const written = await deps.repos.ledger.grant(account.id, parsed.amount, `admin ${admin}`, key);
      if (!written) ctx.logger.info({ admin, user: name, idempotencyKey: key }, 'admin grant already written for this event');
      return success(`${parsed.amount > 0 ? 'Granted' : 'Removed'} ${Math.abs(parsed.amount)} credits ${parsed.amount > 0 ? 'to' : 'from'} ${name}.`, { ephemeral: true });
    }
    case 'ban':
      await deps.repos.accounts.setBanned(account.id, true, parsed.reason);
      return success(`${name} is banned.`, { ephemeral: true });
    case 'unban':
      await deps.repos.accounts.setBanned(account.id, false);
      return success(`${name} is no longer banned.`, { ephemeral: true });
  }
};

const usageLine = (l: UsageLine) => `• ${l.key} — ${l.jobs} job${l.jobs === 1 ? '' : 's'} · GPU ${l.gpuSeconds.toFixed(1)} s · $${l.costUsd.toFixed(2)}`;

/** Pure: the usage report as a chat message (short enough for Discord's 2000 characters). */
export function formatUsageReport(report: UsageReport, days: number): string {
  const byStatus = Object.entries(report.byStatus)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, n]) => `${status} ${n}`)
    .join(' · ');
  const lines = [
    `Usage, last ${days} day${days === 1 ? '' : 's'} (UTC)`,
    `Total — ${report.total.jobs} jobs${byStatus ? ` (${byStatus})` : ''} · GPU ${report.total.gpuSeconds.toFixed(1)} s · $${report.total.costUsd.toFixed(2)}`,
  ];
  if (report.total.jobs === 0) return lines.join('\n');
  lines.push('By day:', ...report.byDay.slice(0, 14).map(usageLine));
  lines.push('By backend:', ...report.byBackend.map(usageLine));
  lines.push('Top users:', ...report.topUsers.map(usageLine));
  return lines.join('\n');
}

/** Pure: how well the likeness score foresaw the people's own 👎, in one line. */
export function formatAgreement(a: LikenessAgreement): string {
  if (a.sets === 0 || a.rate === null) return 'Likeness: no scored portrait sets yet.';
  const mean = (n: number | null) => (n === null ? '–' : String(Math.round(n)));
  return [
    `Likeness: score and 👎 agree on ${Math.round(a.rate * 100)}% of ${a.sets} set${a.sets === 1 ? '' : 's'} (weak = lowest variant under ${a.threshold}).`,
    `👎 sets: ${a.rejectedLow + a.rejectedHigh} (lowest score ${mean(a.meanLowestRejected)} on average) · kept: ${a.keptLow + a.keptHigh} (${mean(a.meanLowestKept)}).`,
  ].join('\n');
}
