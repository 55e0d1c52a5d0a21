import { AppError } from '../errors.js';
import type { Job } from '../db/schema.js';
import type { GpuTask } from '../gpu/backend.js';
import type { StyleCatalog, Subject } from '../gpu/styles.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { ArtifactNotFoundError } from '../storage/artifact-store.js';
import { readParams } from './job-params.js';

/** Builds the backend's task from a job row, reading its inputs from the store. */
export async function taskForJob(job: Job, store: ArtifactStore, styles: StyleCatalog): Promise<GpuTask> {
  const inputs = await Promise.all(job.inputs.map((key) => store.get(key))).catch((error: unknown) => {
    if (error instanceof ArtifactNotFoundError) throw new AppError('JOB_NOT_FOUND', 'job inputs are gone', { cause: error });
    throw error;
  });
  switch (job.kind) {
    case 'portrait': {
      const style = styles.get(job.style ?? '') ?? styles.get(styles.defaultId)!;
      const p = readParams('portrait', job.params);
      return { kind: 'portrait', photos: inputs, style, subject: (job.subject ?? 'me') as Subject, prompt: p.prompt, variants: p.variants, seed: p.seed, identityStrength: p.identityStrength };
    }
    case 'restore': {
      const p = readParams('restore', job.params);
      return { kind: 'restore', photo: inputs[0]!, colorize: p.colorize, fidelity: p.fidelity };
    }
    case 'upscale':
      return { kind: 'upscale', image: inputs[0]!, targetLongEdge: readParams('upscale', job.params).targetLongEdge };
  }
}
