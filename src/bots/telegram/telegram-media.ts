import { encodeToFit, PLATFORM_RULES } from '../../images/index.js';

/**
 * An image as Telegram takes it as a photo (`sendPhoto`, `sendMediaGroup`: at most 10 MB, width +
 * height at most 10000): unchanged when it already fits, else scaled and re-encoded at the best
 * quality that fits. Undefined when nothing fits.
 */
export async function fitPhoto(image: Buffer): Promise<Buffer | undefined> {
  const fitted = await encodeToFit(image, PLATFORM_RULES.telegramPhoto);
  return fitted.tooLarge ? undefined : fitted.bytes;
}

/**
 * A file as Telegram takes it as a document (50 MB on the public Bot API, more from a local
 * server): unchanged when it fits, else the best JPEG quality under the limit; undefined when
 * nothing fits (send a signed link instead).
 */
export async function fitDocument(image: Buffer, maxBytes: number): Promise<Buffer | undefined> {
  const fitted = await encodeToFit(image, { maxBytes });
  return fitted.tooLarge ? undefined : fitted.bytes;
}
