import { LIKENESS_CREDIT } from '../../images/index.js';

/** Words on the status message, the one message that follows a job from "queued" to "done". Shared by the front-end and the deliverer. */

/** Posted the moment photos arrive, before anything is downloaded: the person hears back within a second. */
export const checkingText = (photos: number): string => (photos > 1 ? `📥 Got your ${photos} photos, checking them…` : '📥 Got your photo, checking it…');

/** Posted the moment a button or reaction asks for work. */
export const ONE_MOMENT_TEXT = '⏳ One moment…';

/** A job a worker has started on. */
export const workingText = (progress: string): string => `⏳ ${progress}`;

/** The status once the results are posted. */
export const DONE_TEXT = '✅ Done — the results are below.';
export const DONE_PRIVATELY_TEXT = '✅ Done — I sent the results to you in a private chat.';

/** Beside every file we send: what the file's own metadata also says. */
export const PROVENANCE_CAPTION = `🤖 ${LIKENESS_CREDIT}. The file's metadata says so too (IPTC: trainedAlgorithmicMedia).`;

/** In chats where Telegram tells the bot about reactions, they work as well as the buttons. */
export const REACTION_HINT = 'Or react ❤ to a portrait for its 8K version, 👎 if they do not look like the person.';

export const PHOTO_HINT = 'To make portraits, send 1–4 photos with the caption /portrait (optionally a style, e.g. /portrait noir). /help shows everything.';
