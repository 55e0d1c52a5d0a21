import { newParams } from '../../../jobs/job-params.js';
import { inputKey } from '../../../storage/artifact-store.js';
import type { CommandHandler } from '../context.js';
import { takePhotos } from '../photo-intake.js';
import { submitJob } from '../submit-job.js';
import { eventKey } from './shared.js';

/** /restore: one old photo → restored (optionally colorized), sent beside the original. */
export const restoreCommand: CommandHandler = async (ctx) => {
  const { config, store } = ctx.deps;
  const colorize = ctx.request.options?.colorize === true || ctx.request.options?.colorize === 'true';
  return submitJob(ctx, {
    kind: 'restore',
    idempotencyKey: eventKey(ctx.request),
    price: config.credits.prices.restore,
    params: newParams('restore', { colorize }),
    describe: colorize ? 'Restoring and colorizing your photo' : 'Restoring your photo',
    prepareInputs: async (jobId) => {
      const [bytes] = await takePhotos(ctx.request.photos ?? [], { ...config.photos, maxPhotos: 1 });
      const key = inputKey(jobId, 0);
      await store.put(key, bytes!);
      return [key];
    },
  });
};
