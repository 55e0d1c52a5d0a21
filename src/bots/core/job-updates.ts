import { ERROR_CODES, type ErrorCode } from '../../errors.js';
import type { StyleCatalog } from '../../gpu/styles.js';
import { readParams, type LikenessSummary } from '../../jobs/job-params.js';
import { messageFor } from './messages.js';
import type { Job, Result } from './model.js';
import { info, success, type Button, type Reply } from './reply.js';
import { CANCELLED_TEXT, DONE_TEXT } from './status-text.js';

/** Said of every memorial and restored image, in words as well as in the file's metadata. */
export const RECONSTRUCTION_LABEL = 'AI reconstruction — not an original photograph';
const LOCAL_PREVIEW_NOTE = 'Local preview: made on the CPU without an AI model (set GPU_BACKEND for real portraits).';

/** "Working on it" for a job a worker has started. */
export function progressReply(job: Job): Reply {
  const what = { portrait: '⏳ Making your portraits…', restore: '⏳ Restoring your photo…', upscale: '⏳ Making the 8K version…' }[job.kind];
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
    return success(['Your restored photo, beside the original.', ...restoreLikenessLines(job, results[0]), ...notes(job)].join('\n'), {
      images: [
        ...job.inputs.slice(0, 1).map((key) => ({ artifactKey: key, filename: 'original.jpg', as: 'photo' as const })),
        ...results.map((r) => ({ artifactKey: r.artifactKey, resultId: r.id, filename: `restored-${job.id.slice(0, 8)}.jpg`, as: 'photo' as const })),
      ],
    });
  }
  const style = styles.get(job.style ?? '')?.label ?? job.style ?? 'portrait';
  const upscaleRow: Button[] = results.map((r) => ({ label: `U${r.variant + 1}`, command: 'upscale', target: r.id, variant: r.variant }));
  return success([`Here are your portraits (${style}). Pick a favourite for an 8K version.`, ...portraitLikenessLines(job, results), ...notes(job)].join('\n'), {
    ephemeral: privately,
    images: results.map((r) => ({ artifactKey: r.artifactKey, resultId: r.id, filename: `likeness-${job.id.slice(0, 8)}-${r.variant + 1}.jpg`, as: 'photo' })),
    buttons: [upscaleRow, [{ label: '🔄 Again', command: 'reroll', target: job.id }, { label: '👎 Not them', command: 'notthem', target: job.id }]],
  });
}

/** The likeness gate's summary of a job (see completeJob), when the job was measured. */
function likenessSummary(job: Job): LikenessSummary | undefined {
  if (job.kind === 'upscale') return undefined;
  return readParams(job.kind, job.params).likeness ?? undefined;
}

const credits = (n: number) => `${n} credit${n === 1 ? '' : 's'}`;
const times = (n: number) => (n === 1 ? 'once more' : `${n} more times`);
const listed = (items: string[]) => (items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`);

/**
 * "#1 likeness 87 · #2 likeness 91 …" under a portrait set, and an honest note when some variants
 * stayed under LIKENESS_MIN: which, how often they were made again, and the credits given back.
 */
export function portraitLikenessLines(job: Job, results: readonly Result[]): string[] {
  const scored = results.filter((r) => r.likenessScore !== null);
  if (scored.length === 0) return [];
  const lines = [scored.map((r) => `#${r.variant + 1} likeness ${Math.round(r.likenessScore!)}`).join(' · ')];
  const summary = likenessSummary(job);
  if (summary && summary.weak.length > 0) {
    const who = job.subject === 'someone' || job.subject === 'memorial' ? 'them' : 'you';
    const which = listed(summary.weak.map((v) => `#${v + 1}`));
    const tried = summary.retries > 0 ? ` even after I made ${summary.weak.length === 1 ? 'it' : 'them'} ${times(summary.retries)} holding closer to your photos` : '';
    const refund = summary.refunded > 0 ? ` ${credits(summary.refunded)} refunded for ${summary.weak.length === 1 ? 'it' : 'them'}.` : '';
    lines.push(`${which} may not look like ${who}: likeness stayed under ${summary.min}${tried}.${refund}`);
  }
  return lines;
}

/** "Likeness to the original: 93", and a word when the face may have drifted. */
export function restoreLikenessLines(job: Job, result: Result | undefined): string[] {
  if (!result || result.likenessScore === null) return [];
  const score = Math.round(result.likenessScore);
  const summary = likenessSummary(job);
  if (summary && summary.weak.length > 0) {
    const again = summary.retries > 0 ? ', even after a second pass at higher fidelity' : '';
    return [`Likeness to the original: ${score}. The face may have drifted from the original${again}; compare them closely.`];
  }
  return [`Likeness to the original: ${score}.${summary && summary.retries > 0 ? ' (Restored a second time at higher fidelity to keep the face.)' : ''}`];
}

/** Why a job ended without results, in the words of the messages table (they say the credits were refunded). */
export function failedReply(job: Job): Reply {
  if (job.status === 'cancelled') return info(CANCELLED_TEXT);
  const code = (ERROR_CODES as readonly string[]).includes(job.errorCode ?? '') ? (job.errorCode as ErrorCode) : 'GPU_FAILED';
  return { text: messageFor(code), tone: 'error', code };
}

/** What a status should say once its job has ended, or undefined while it has not. */
export function endedStatus(job: Job): Reply | undefined {
  if (job.status === 'succeeded') return info(DONE_TEXT);
  if (job.status === 'failed' || job.status === 'cancelled') return failedReply(job);
  return undefined;
}
