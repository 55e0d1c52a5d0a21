import type { Job, Result } from '../../db/schema.js';
import { ERROR_CODES, type ErrorCode } from '../../errors.js';
import type { StyleCatalog } from '../../gpu/styles.js';
import { messageFor } from './messages.js';
import { info, success, type Button, type Reply } from './reply.js';

/** Said of every memorial and restored image, in words as well as in the file's metadata. */
export const RECONSTRUCTION_LABEL = 'AI reconstruction — not an original photograph';
const LOCAL_PREVIEW_NOTE = 'Local preview: made on the CPU without an AI model (set GPU_BACKEND for real portraits).';

/** "Working on it" for a job a worker has started. */
export function progressReply(job: Job): Reply {
  const what = { portrait: 'Making your portraits…', restore: 'Restoring your photo…', upscale: 'Making the 8K version…' }[job.kind];
  return info(what, { job: { id: job.id, position: 0, etaSeconds: 0 } });
}

function notes(job: Job): string[] {
  const out: string[] = [];
  if (job.subject === 'memorial' || job.kind === 'restore') out.push(RECONSTRUCTION_LABEL);
  if (job.backend === 'local') out.push(LOCAL_PREVIEW_NOTE);
  return out;
}

/** The message that carries a finished job's images, with the buttons that act on them. */
export function succeededReply(job: Job, results: readonly Result[], styles: StyleCatalog): Reply {
  const privately = job.subject === 'memorial';
  if (job.kind === 'upscale') {
    const [result] = results;
    return success(['Your 8K portrait (7680 px on the long edge).', ...notes(job)].join('\n'), {
      ephemeral: privately,
      images: result ? [{ artifactKey: result.artifactKey, resultId: result.id, filename: `likeness-8k-${job.id.slice(0, 8)}.jpg`, as: 'document' }] : [],
    });
  }
  if (job.kind === 'restore') {
    return success(['Your restored photo, beside the original.', ...notes(job)].join('\n'), {
      images: [
        ...job.inputs.slice(0, 1).map((key) => ({ artifactKey: key, filename: 'original.jpg', as: 'photo' as const })),
        ...results.map((r) => ({ artifactKey: r.artifactKey, resultId: r.id, filename: `restored-${job.id.slice(0, 8)}.jpg`, as: 'photo' as const })),
      ],
    });
  }
  const style = styles.get(job.style ?? '')?.label ?? job.style ?? 'portrait';
  const upscaleRow: Button[] = results.map((r) => ({ label: `U${r.variant + 1}`, command: 'upscale', target: r.id }));
  return success([`Here are your portraits (${style}). Pick a favourite for an 8K version.`, ...notes(job)].join('\n'), {
    ephemeral: privately,
    images: results.map((r) => ({ artifactKey: r.artifactKey, resultId: r.id, filename: `likeness-${job.id.slice(0, 8)}-${r.variant + 1}.jpg`, as: 'photo' })),
    buttons: [upscaleRow, [{ label: '🔄 Again', command: 'reroll', target: job.id }, { label: '👎 Not them', command: 'notthem', target: job.id }]],
  });
}

/** Why a job ended without results, in the words of the messages table (they say the credits were refunded). */
export function failedReply(job: Job): Reply {
  const code = (ERROR_CODES as readonly string[]).includes(job.errorCode ?? '') ? (job.errorCode as ErrorCode) : 'GPU_FAILED';
  return { text: messageFor(code), tone: 'error', code };
}
