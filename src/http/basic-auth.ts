import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Whether an `Authorization: Basic …` header carries `password` (any user name). The comparison
 * is of SHA-256 digests with `timingSafeEqual`: its time tells nothing about the password, not
 * even its length.
 */
export function basicAuthPasses(header: string | undefined, password: string): boolean {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  const given = colon >= 0 ? decoded.slice(colon + 1) : '';
  // Always compare, so a missing header takes as long as a wrong password.
  const same = timingSafeEqual(digest(given), digest(password));
  return same && colon >= 0;
}
