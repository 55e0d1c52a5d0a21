import { recordConsent } from '../../../db/accounts.repository.js';
import { utcDay } from '../../../db/credit-rules.js';
import { forgetAccount } from '../../../db/forget.repository.js';
import { endJobWithRefund, queuedJobsOf, recentJobsOf } from '../../../db/jobs.repository.js';
import { currentBalance } from '../../../db/ledger.repository.js';
import type { CommandHandler } from '../context.js';
import { CONSENT_TEXT, HELP_TEXT } from '../messages.js';
import { info, success } from '../reply.js';

/** /credits: what can be spent now, and what things cost. */
export const creditsCommand: CommandHandler = async (ctx) => {
  const { credits } = ctx.deps.config;
  const balance = await currentBalance(ctx.deps.db, ctx.account.id, credits.freeDaily, utcDay(ctx.now));
  const p = credits.prices;
  return info(
    [
      `Credits: ${Math.max(0, balance.paid)} · free today: ${Math.max(0, balance.freeLeft)} of ${credits.freeDaily} (refills at midnight UTC).`,
      `Prices: 4 portraits ${p.portrait} · 8K upscale ${p.upscale} · restore ${p.restore}.`,
    ].join('\n'),
    { ephemeral: true },
  );
};

const STATUS_WORDS = { queued: 'waiting', running: 'in progress', succeeded: 'done', failed: 'failed (refunded)', cancelled: 'cancelled (refunded)' } as const;

/** /history: the last few requests. */
export const historyCommand: CommandHandler = async (ctx) => {
  const recent = await recentJobsOf(ctx.deps.db, ctx.account.id, 10);
  if (recent.length === 0) return info('No requests yet. Send /portrait with a photo to start.', { ephemeral: true });
  const lines = recent.map((job) => {
    const when = job.createdAt.toISOString().slice(0, 16).replace('T', ' ');
    const what = job.style ? `${job.kind} (${job.style})` : job.kind;
    return `• ${when} UTC — ${what} — ${STATUS_WORDS[job.status]}`;
  });
  return info(['Your recent requests:', ...lines].join('\n'), { ephemeral: true });
};

/** /cancel: every request that has not started yet is cancelled and refunded. */
export const cancelCommand: CommandHandler = async (ctx) => {
  const queued = await queuedJobsOf(ctx.deps.db, ctx.account.id);
  let cancelled = 0;
  let refunded = 0;
  for (const job of queued) {
    await ctx.deps.gpuQueue.remove(job.id);
    // The status update decides the race with a worker picking the job up: only a still-queued job is cancelled.
    const credits = await endJobWithRefund(ctx.deps.db, job.id, 'cancelled', null);
    if (credits !== undefined) {
      cancelled += 1;
      refunded += credits;
    }
  }
  if (cancelled === 0) return info('Nothing to cancel: no request is waiting.', { ephemeral: true });
  return success(`Cancelled ${cancelled} request${cancelled === 1 ? '' : 's'}; ${refunded} credits refunded.`, { ephemeral: true });
};

/** /forget: after a confirmation, every photo, result and record of the person is deleted. */
export const forgetCommand: CommandHandler = async (ctx) => {
  if (ctx.request.target !== 'confirm') {
    return info('This deletes every photo, portrait and record of you, and your credits. It cannot be undone.', {
      ephemeral: true,
      buttons: [[{ label: 'Delete everything', command: 'forget', target: 'confirm' }]],
    });
  }
  for (const job of await queuedJobsOf(ctx.deps.db, ctx.account.id)) await ctx.deps.gpuQueue.remove(job.id);
  const jobIds = await forgetAccount(ctx.deps.db, ctx.account.id);
  await Promise.all(jobIds.flatMap((id) => [ctx.deps.store.deletePrefix(`inputs/${id}/`), ctx.deps.store.deletePrefix(`results/${id}/`)]));
  ctx.logger.info({ jobs: jobIds.length }, 'account forgotten');
  return success('Done. Everything of yours has been deleted.', { ephemeral: true });
};

/** /styles: the catalog. */
export const stylesCommand: CommandHandler = async (ctx) => {
  const lines = ctx.deps.styles.list().map((s) => `• ${s.id} — ${s.label}: ${s.description}`);
  return info(['Styles:', ...lines].join('\n'), { ephemeral: true });
};

export const helpCommand: CommandHandler = async () => info(HELP_TEXT, { ephemeral: true });

/** The consent card's "I agree". */
export const consentCommand: CommandHandler = async (ctx) => {
  await recordConsent(ctx.deps.db, ctx.account.id, ctx.now);
  return success('Thank you. Send /portrait with 1–4 photos to begin.', { ephemeral: true });
};

/** /start: the consent card with the help under it for a newcomer; just the help once they agreed. */
export const startCommand: CommandHandler = async (ctx) => {
  if (ctx.account.consentedAt) return info(HELP_TEXT, { ephemeral: true });
  return info(`${CONSENT_TEXT}\n\n${HELP_TEXT}`, { ephemeral: true, buttons: [[{ label: 'I agree', command: 'consent' }]] });
};

export const consentCard = () =>
  info(CONSENT_TEXT, { ephemeral: true, code: 'CONSENT_REQUIRED', buttons: [[{ label: 'I agree', command: 'consent' }]] });
