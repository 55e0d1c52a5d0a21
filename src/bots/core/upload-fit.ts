import { encodeToFit, type FitRule } from '../../images/index.js';
import type { Logger } from '../../logger.js';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import type { SignedLinks } from './deliverer.js';
import type { ReplyImage } from './reply.js';
import { tooLargeNote } from './status-text.js';

/** A picture made ready for one upload: its bytes (re-encoded only when needed), or what to say instead. */
export type FittedUpload = { bytes: Buffer } | { note: string };

export interface UploadFitDeps {
  store: Pick<ArtifactStore, 'get'>;
  links?: SignedLinks;
  logger: Logger;
}

/**
 * The stored picture under a platform's upload rule: unchanged when it fits, else at the best JPEG
 * quality that fits; when nothing does, a note with a signed download link (or a plain word when
 * no link can be made). Every platform sends files through this, so they all say the same.
 */
export async function fitForUpload(deps: UploadFitDeps, image: ReplyImage, rule: FitRule, platformName: string): Promise<FittedUpload> {
  const bytes = await deps.store.get(image.artifactKey);
  const fitted = await encodeToFit(bytes, rule);
  if (!fitted.tooLarge) return { bytes: fitted.bytes };
  const url = await deps.links?.urlFor(image.artifactKey, image.filename);
  deps.logger.warn({ artifactKey: image.artifactKey, bytes: bytes.byteLength, limit: rule.maxBytes, platform: platformName, link: Boolean(url) }, 'result too large to upload');
  return { note: tooLargeNote(bytes.byteLength, platformName, url) };
}
