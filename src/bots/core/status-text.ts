import { LIKENESS_CREDIT } from '../../images/index.js';

/** Words on the status message, the one message that follows a request from its first word to "done". */

/** Posted the moment photos arrive, before anything is downloaded: the person hears back within a second. */
export const checkingText = (photos: number): string => (photos > 1 ? `📥 Got your ${photos} photos, checking them…` : '📥 Got your photo, checking it…');

/** Posted the moment a button or reaction asks for work. */
export const ONE_MOMENT_TEXT = '⏳ One moment…';

/** The status once the results are posted. */
export const DONE_TEXT = '✅ Done — the results are below.';
export const DONE_PRIVATELY_TEXT = '✅ Done — I sent the results to you in a private chat.';
export const CANCELLED_TEXT = 'Cancelled; the credits were refunded.';

/** Beside every file we send: what the file's own metadata also says. */
export const PROVENANCE_LINE = `🤖 ${LIKENESS_CREDIT}. The file's metadata says so too (IPTC: trainedAlgorithmicMedia).`;

const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** Said instead of a file no upload can carry: a signed download link, or a plain word when none can be made. */
export function tooLargeNote(bytes: number, platformName: string, url: string | undefined): string {
  return url
    ? `The full file is ${megabytes(bytes)}, more than ${platformName} lets a bot send here. Download it (the link expires): ${url}`
    : `The full file is ${megabytes(bytes)}, more than ${platformName} lets a bot send here, and no download link can be made on this server. Please ask the operator.`;
}

/** Told to the requester, any way left, when a finished job's pictures can never reach the chat. */
export function undeliverableText(refunded: number): string {
  const credits = refunded > 0 ? ` The ${refunded} credit${refunded === 1 ? '' : 's'} for it ${refunded === 1 ? 'was' : 'were'} refunded.` : ' Nothing was charged for it.';
  return `I finished your request but could not post it in that chat: I can no longer write there (I may have been removed, blocked, or lost the right to send pictures).${credits}`;
}
