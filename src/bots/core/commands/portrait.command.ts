import { newParams, PORTRAIT_VARIANTS } from '../../../jobs/job-params.js';
import { inputKey } from '../../../storage/artifact-store.js';
import type { CommandHandler } from '../context.js';
import { severalFacesNote } from '../messages.js';
import { checkFaces, takePhotos, type FaceCount } from '../photo-intake.js';
import { parsePortraitOptions, randomSeed } from '../portrait-options.js';
import { submitJob } from '../submit-job.js';
import { eventKey } from './shared.js';

export const MAX_PORTRAIT_PHOTOS = 4;

/** /portrait: 1–4 photos of one person → 4 portraits in a style. */
export const portraitCommand: CommandHandler = async (ctx) => {
  const { config, styles, store } = ctx.deps;
  const options = parsePortraitOptions(ctx.request.options ?? {}, styles);
  const photos = ctx.request.photos ?? [];
  let faces: FaceCount[] = [];
  const reply = await submitJob(ctx, {
    kind: 'portrait',
    idempotencyKey: eventKey(ctx.request),
    price: config.credits.prices.portrait,
    style: options.style.id,
    subject: options.subject,
    params: newParams('portrait', { seed: options.seed ?? randomSeed(), identityStrength: options.style.identityStrength, prompt: options.prompt }),
    describe: `Making ${PORTRAIT_VARIANTS} portraits in the ${options.style.label} style`,
    prepareInputs: async (jobId) => {
      const normalized = await takePhotos(photos, { ...config.photos, maxPhotos: MAX_PORTRAIT_PHOTOS });
      // Before anything is stored or reserved: a photo without a face is refused for free.
      faces = await (ctx.deps.faceCheck ?? checkFaces)(normalized);
      const keys = normalized.map((_, i) => inputKey(jobId, i));
      await Promise.all(normalized.map((bytes, i) => store.put(keys[i]!, bytes)));
      return keys;
    },
  });
  const note = severalFacesNote(faces);
  return note ? { ...reply, text: `${reply.text}\n${note}` } : reply;
};
