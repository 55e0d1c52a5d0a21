import type { ErrorCode } from '../../errors.js';

type Details = Record<string, string | number>;

const photo = (d: Details) => (d.photo ? `Photo ${d.photo}` : 'That photo');
const mb = (bytes: number | string | undefined) => `${Math.round(Number(bytes ?? 0) / 1024 / 1024)} MB`;

/** Every expected failure, in the words the user reads. One place, so wording stays consistent across platforms. */
const MESSAGES: Record<ErrorCode, (d: Details) => string> = {
  NO_PHOTO: () => 'Please attach at least one photo of the person, with their face clearly visible.',
  TOO_MANY_PHOTOS: (d) => `Please send at most ${d.max ?? 4} photos at a time.`,
  FILE_EMPTY: (d) => `${photo(d)} is empty. Could you send it again?`,
  FILE_TOO_LARGE: (d) => `${photo(d)} is too large (the limit is ${mb(d.max)}). A smaller copy works just as well.`,
  IMAGE_TOO_LARGE: (d) => `${photo(d)} has too many pixels (over ${Math.round(Number(d.maxPixels ?? 50_000_000) / 1_000_000)} megapixels). Please send a smaller version.`,
  IMAGE_TOO_COSTLY: (d) => `${photo(d)} takes too much work for me to open (a very large HEIC or 16-bit image, or one that took too long to decode). Please send it as an ordinary JPEG or a smaller version.`,
  UNSUPPORTED_FORMAT: (d) => `${photo(d)} isn't a photo I can read. Please send a JPEG, PNG, WebP, AVIF, GIF or HEIC image.`,
  CORRUPT_IMAGE: (d) => `${photo(d)} seems damaged or incomplete. Could you send it again?`,
  NO_FACE_FOUND: (d) => `I couldn't find a face in ${d.photo ? `photo ${d.photo}` : 'that photo'}. Please use a photo where the face is clear and well lit.`,
  UNKNOWN_STYLE: (d) => `I don't know the style "${d.style}". Send /styles to see them all.`,
  BAD_OPTION: (d) => `${d.reason ?? 'That option is not valid.'}`,
  CONSENT_REQUIRED: () => 'Please read and accept the terms first.',
  BANNED: () => 'This account cannot make portraits. If you think this is a mistake, please contact the server owner.',
  QUOTA_EXCEEDED: (d) => `That needs ${d.price} credits and you have ${d.balance}. Free credits refill every day at midnight UTC.`,
  TOO_MANY_ACTIVE_JOBS: (d) => `You already have ${d.active} requests in progress (the limit is ${d.max}). Please wait for them to finish, or /cancel.`,
  RESULT_NOT_FOUND: () => "I can't find that picture any more. It may have expired or been deleted.",
  JOB_NOT_FOUND: () => "I can't find that request any more. It may have expired or been deleted.",
  NOT_YOURS: () => 'Only the person who asked for these portraits can do that.',
  ALREADY_REFUNDED: () => 'Those credits were already refunded.',
  GPU_UNAVAILABLE: () => 'The image service is busy or unreachable right now. Your credits were refunded; please try again in a few minutes.',
  GPU_FAILED: () => 'Something went wrong while making your pictures. Your credits were refunded; please try again.',
  GPU_REJECTED_INPUT: () => "The image service couldn't use these photos. Your credits were refunded; please try different photos.",
  SERVICE_UNAVAILABLE: () => 'Likeness is temporarily unavailable. Nothing was charged; please try again in a minute.',
  UNKNOWN_COMMAND: () => "I don't know that command. Send /help to see what I can do.",
  RESULT_EXPIRED: () => 'That picture has been deleted: finished pictures are kept only for a limited time. Nothing was charged. Send /portrait with your photos to make new ones.',
  INPUTS_EXPIRED: () => "The photos behind these portraits have been deleted (photos are kept only for a few days), so I can't make new ones from them. Nothing was charged. Send /portrait with your photos again.",
  LINK_CODE_INVALID: () => 'That link code is not valid: it may be mistyped, used already, or older than 10 minutes. Send /link on your other platform for a new one.',
  SLOW_DOWN: (d) => `That is a lot of photos in a short time. Please wait ${d.minutes ?? 10} minutes and try again. Nothing was charged.`,
  INTAKE_BUSY: () => 'Many people are sending photos right now. Please try again in a minute. Nothing was charged.',
  PRIVATE_ONLY: () => 'That answer is for you alone, so I will not post it here. Send the command to me in a private chat (open my profile and press Start).',
  LINK_SAME_PLATFORM: (d) => `Both accounts are on ${d.platform ?? 'the same platform'}. Send the code from your account on the other platform (Discord or Telegram).`,
};

/** The friendly message for an error code. */
export function messageFor(code: ErrorCode, details: Details = {}): string {
  return MESSAGES[code](details);
}

/**
 * Said beside "queued" when a portrait photo shows more than one face: which photos, and that the
 * largest face is the one portrayed. Undefined when every photo shows one face.
 */
export function severalFacesNote(counts: ReadonlyArray<{ photo: number; faces: number }>): string | undefined {
  const crowded = counts.filter((c) => c.faces > 1);
  if (crowded.length === 0) return undefined;
  const which = crowded.map((c) => (counts.length === 1 ? `That photo shows ${c.faces} faces` : `Photo ${c.photo} shows ${c.faces} faces`));
  return `${which.join('; ')}. I'm using the largest face${crowded.length > 1 ? ' in each' : ''}; crop the photo if you meant someone else.`;
}

/** Shown for unexpected errors: no internals, just a reference an operator can find in the logs. */
export const apology = (ref: string): string => `Sorry, something went wrong on my side. Nothing was charged. (ref ${ref})`;

export const CONSENT_TEXT = [
  'Before we start:',
  '• Use only photos you have the right to use.',
  '• Portraits of living people need their permission.',
  '• Results are made by AI and are labelled as such.',
  '• Your photos are stripped of location data, kept only as long as needed, and /forget deletes everything.',
].join('\n');
