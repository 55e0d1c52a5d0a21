import { AppError } from '../../../errors.js';
import { newParams } from '../../../jobs/job-params.js';
import type { CommandHandler } from '../context.js';
import { submitJob } from '../submit-job.js';
import { eventKey, requireOwner, requireTarget } from './shared.js';

/** Upscale a favourite to 8K. One upscale per result: picking the same favourite twice never charges twice. */
export const upscaleCommand: CommandHandler = async (ctx) => {
  const { repos, store } = ctx.deps;
  const resultId = requireTarget(ctx.request, 'RESULT_NOT_FOUND');
  const found = await repos.results.withJob(resultId);
  if (!found) throw new AppError('RESULT_NOT_FOUND', 'no such result');
  requireOwner(ctx.account, found.job);
  if (found.job.kind === 'upscale') throw new AppError('BAD_OPTION', 'already upscaled', { details: { reason: 'That picture is already the 8K version.' } });
  // Retention deletes results after OUTPUT_RETENTION_DAYS (the row stays, marked): refuse before anything is reserved.
  if (found.result.purgedAt || !(await store.exists(found.result.artifactKey))) throw new AppError('RESULT_EXPIRED', 'result image deleted');

  // A failed earlier upscale of this result may be tried again, under this event's own key.
  const perResult = `upscale:${resultId}`;
  const earlier = await repos.jobs.getByKey(perResult);
  const retry = earlier && (earlier.status === 'failed' || earlier.status === 'cancelled');
  return submitJob(ctx, {
    kind: 'upscale',
    idempotencyKey: retry ? `${perResult}:${eventKey(ctx.request)}` : perResult,
    price: ctx.deps.config.credits.prices.upscale,
    parentJobId: found.job.id,
    style: found.job.style ?? undefined,
    subject: found.job.subject ?? undefined,
    params: newParams('upscale', { resultId, variant: found.result.variant }),
    describe: `Making the 8K version of portrait ${found.result.variant + 1}`,
    prepareInputs: async () => [found.result.artifactKey],
  });
};
