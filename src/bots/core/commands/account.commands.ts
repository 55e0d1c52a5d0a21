import { eraseJobFiles } from '../../../storage/job-artifacts.js';
import { helpText } from '../command-catalog.js';
import type { CommandHandler } from '../context.js';
import { utcDay } from '../credit-rules.js';
import { CONSENT_TEXT } from '../messages.js';
import { info, success } from '../reply.js';

/** /credits: what can be spent now, and what things cost. */
export const creditsCommand: CommandHandler = async (ctx) => {
  const { credits } = ctx.deps.config;
  const balance = await ctx.deps.repos.ledger.balance(ctx.account.id, credits.freeDaily, utcDay(ctx.now));
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
  const recent = await ctx.deps.repos.jobs.recentOf(ctx.account.id, 10);
  if (recent.length === 0) return info('No requests yet. Send /portrait with a photo to start.', { ephemeral: true });
  const lines = recent.map((job) => {
    const when = job.createdAt.toISOString().slice(0, 16).replace('T', ' ');
    const what = job.style ? `${job.kind} (${job.style})` : job.kind;
    return `• ${when} UTC — ${what} — ${STATUS_WORDS[job.status]}`;
  });
  return info(['Your recent requests:', ...lines].join('\n'), { ephemeral: true });
};

/** /cancel: every request that has not finished is cancelled and refunded, running ones too. */
export const cancelCommand: CommandHandler = async (ctx) => {
  const active = await ctx.deps.repos.jobs.activeOf(ctx.account.id);
  let cancelled = 0;
  let refunded = 0;
  for (const job of active) {
    if (job.status === 'queued') await ctx.deps.gpuQueue.remove(job.id);
    // The status update decides the race with a worker: a job that finished first is not cancelled.
    const credits = await ctx.deps.repos.jobs.endWithRefund(job.id, 'cancelled', null);
    if (credits === undefined) continue;
    cancelled += 1;
    refunded += credits;
    // Whichever worker picked it up (even just now) stops and stores nothing; elsewhere a no-op.
    await ctx.deps.gpuQueue.cancelRunning(job.id);
  }
  if (cancelled === 0) return info('Nothing to cancel: no request is waiting or in progress.', { ephemeral: true });
  return success(`Cancelled ${cancelled} request${cancelled === 1 ? '' : 's'}; ${refunded} credits refunded.`, { ephemeral: true });
};

/** /forget: after a confirmation, every photo, result, job input and identity of the person is deleted; anonymous usage stays. */
export const forgetCommand: CommandHandler = async (ctx) => {
  if (ctx.request.target !== 'confirm') {
    return info(
      [
        'This deletes every photo, portrait and record of you, and your credits. It cannot be undone.',
        'Kept: only a one-way code of your chat account with any ban and the free credits you used today, so forgetting cannot lift a ban or refill them.',
      ].join('\n'),
      { ephemeral: true, buttons: [[{ label: 'Delete everything', command: 'forget', target: 'confirm' }]] },
    );
  }
  const { repos, store, gpuQueue } = ctx.deps;
  // The root logger: the request's child logger carries the chat and event ids this is about to erase.
  const logger = ctx.deps.logger;
  const outcome = await repos.forget.forget(ctx.account.id);
  // Cancelled in the database already (a worker that picks one up skips it); this tidies the queue
  // and stops the ones being made.
  await Promise.all(outcome.cancelledJobIds.map((id) => gpuQueue.remove(id).catch(() => false)));
  await Promise.all(outcome.stoppedJobIds.map((id) => gpuQueue.cancelRunning(id).catch(() => undefined)));
  try {
    await eraseJobFiles(store, outcome.jobIds);
    // Stopped jobs stay unmarked: the retention run sweeps their folders again once their workers are done.
    await repos.forget.markFilesErased(outcome.jobIds.filter((id) => !outcome.stoppedJobIds.includes(id)));
  } catch (error) {
    // The rows are gone and the jobs unmarked: the next retention run deletes what is left.
    logger.warn({ err: error, jobs: outcome.jobIds.length }, 'account forgotten; some stored files are left for the retention run');
    return success('Your records are deleted. A few stored pictures could not be removed just now; they will be removed automatically within the hour.', { ephemeral: true });
  }
  logger.info({ jobs: outcome.jobIds.length }, 'account forgotten');
  return success('Done. Everything of yours has been deleted.', { ephemeral: true });
};

/** /styles: the catalog. */
export const stylesCommand: CommandHandler = async (ctx) => {
  const lines = ctx.deps.styles.list().map((s) => `• ${s.id} — ${s.label}: ${s.description}`);
  return info(['Styles:', ...lines].join('\n'), { ephemeral: true });
};

export const helpCommand: CommandHandler = async () => info(helpText(), { ephemeral: true });

/** The consent card's "I agree". */
export const consentCommand: CommandHandler = async (ctx) => {
  await ctx.deps.repos.accounts.recordConsent(ctx.account.id, ctx.now);
  return success('Thank you. Send /portrait with 1–4 photos to begin.', { ephemeral: true });
};

/** /start: the consent card with the help under it for a newcomer; just the help once they agreed. */
export const startCommand: CommandHandler = async (ctx) => {
  if (ctx.account.consentedAt) return info(helpText(), { ephemeral: true });
  return info(`${CONSENT_TEXT}\n\n${helpText()}`, { ephemeral: true, buttons: [[{ label: 'I agree', command: 'consent' }]] });
};

export const consentCard = () =>
  info(CONSENT_TEXT, { ephemeral: true, code: 'CONSENT_REQUIRED', buttons: [[{ label: 'I agree', command: 'consent' }]] });
