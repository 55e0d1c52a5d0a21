import { AppError } from '../../errors.js';
import { safeDownload, type DownloadPolicy } from '../../net/safe-download.js';
import type { PhotoSource } from '../core/request.js';

/** Where Discord serves attachments from. */
export const DISCORD_CDN_HOSTS: readonly string[] = ['cdn.discordapp.com', 'media.discordapp.net'];

/** Which attachment URLs may be fetched: Discord's CDN plus `ATTACHMENT_HOSTS`. */
export type AttachmentPolicy = DownloadPolicy;

export function attachmentPolicy(extraHosts: readonly string[], options: Omit<AttachmentPolicy, 'hosts'> = {}): AttachmentPolicy {
  return { hosts: [...DISCORD_CDN_HOSTS, ...extraHosts.map((h) => h.toLowerCase())], ...options };
}

/** What a Discord attachment says about itself. */
export interface AttachmentRef {
  url: string;
  /** Bytes Discord says the file has. */
  size?: number;
  name?: string;
}

/** An attachment as the command layer reads it: refused before download when Discord's announced size is already too large. */
export function discordPhotoSource(attachment: AttachmentRef, label: string, policy: AttachmentPolicy): PhotoSource {
  return {
    label,
    declaredBytes: attachment.size,
    ref: { url: attachment.url, size: attachment.size, name: attachment.name },
    async read(maxBytes) {
      if (attachment.size !== undefined && attachment.size > maxBytes) throw new AppError('FILE_TOO_LARGE', 'declared size exceeds limit', { details: { max: maxBytes } });
      return safeDownload(attachment.url, maxBytes, policy);
    },
  };
}
