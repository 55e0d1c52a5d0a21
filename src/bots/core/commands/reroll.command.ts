import { AppError } from '../../../errors.js';
import { strongerIdentity } from '../../../gpu/styles.js';
import { newParams, readParams } from '../../../jobs/job-params.js';
import type { CommandContext, CommandHandler } from '../context.js';
import type { Job } from '../model.js';
import { randomSeed } from '../portrait-options.js';
import type { Reply } from '../reply.js';
import { submitJob } from '../submit-job.js';
import { eventKey, requireOwner, requireTarget } from './shared.js';

async function ownPortraitJob(ctx: CommandContext): Promise<Job> {
  const job = await ctx.deps.repos.jobs.get(requireTarget(ctx.request, 'JOB_NOT_FOUND'));
  if (!job || job.kind !== 'portrait') throw new AppError('JOB_NOT_FOUND', 'no such portrait job');
  requireOwner(ctx.account, job);
  // Retention deletes input photos after INPUT_RETENTION_DAYS; without them there is nothing to re-roll
  // from. A re-roll reads its parent's photos, so the store, not only this row's mark, has the last word.
  const stored = job.inputs.length > 0 && !job.inputsPurgedAt && (await Promise.all(job.inputs.map((key) => ctx.deps.store.exists(key)))).every(Boolean);
  if (!stored) throw new AppError('INPUTS_EXPIRED', 'input photos deleted');
  return job;
}

function rerollOf(ctx: CommandContext, parent: Job, identityStrength: number, describe: string): Promise<Reply> {
  const styleLabel = ctx.deps.styles.get(parent.style ?? '')?.label ?? 'same style';
  const { prompt } = readParams('portrait', parent.params);
  return submitJob(ctx, {
    kind: 'portrait',
    idempotencyKey: eventKey(ctx.request),
    price: ctx.deps.config.credits.prices.portrait,
    parentJobId: parent.id,
    style: parent.style ?? undefined,
    subject: parent.subject ?? undefined,
    params: newParams('portrait', { seed: randomSeed(), identityStrength, prompt }),
    describe: `${describe} (${styleLabel})`,
    prepareInputs: async () => parent.inputs,
  });
}

/** 🔄: the same photos and style, a new seed. */
export const rerollCommand: CommandHandler = async (ctx) => {
  const parent = await ownPortraitJob(ctx);
  return rerollOf(ctx, parent, readParams('portrait', parent.params).identityStrength, 'Trying again with a new seed');
};

/** 👎 "not them": refund the rejected set once, then re-roll holding closer to the person's face. */
export const notThemCommand: CommandHandler = async (ctx) => {
  const { repos } = ctx.deps;
  const parent = await ownPortraitJob(ctx);
  // The verdict sits beside each variant's likeness score, so operators can see how well the score foresees it.
  await repos.results.recordVerdict(parent.id, 'not_them');
  // Once per original request: 👎 on each new set must not make them all free.
  const refunded = parent.status === 'succeeded' ? await repos.jobs.refundRejectedSet(parent.id) : 0;
  // The style says how much closer to the reference photos each "not them" holds.
  const strength = strongerIdentity(ctx.deps.styles.get(parent.style ?? ''), readParams('portrait', parent.params).identityStrength);
  const reply = await rerollOf(ctx, parent, strength, 'Sorry they did not look right. Trying again, closer to the photos');
  return refunded > 0 ? { ...reply, text: `${reply.text}\nThe ${refunded} credits for the previous set were refunded.` } : reply;
};
