import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a download link grants: one artifact, under one file name, until one moment. */
export interface FileClaim {
  artifactKey: string;
  filename: string;
  /** Unix time in seconds after which the link is refused. */
  expiresAt: number;
}

export type TokenCheck = { ok: true; claim: FileClaim } | { ok: false; reason: 'forged' | 'expired' };

/** A domain tag in the MAC: a token made for something else with the same secret is never a download link. */
const CONTEXT = 'likeness-file-link-v1.';
const TOKEN = /^([A-Za-z0-9_-]{1,2048})\.([A-Za-z0-9_-]{43})$/;

const mac = (secret: Buffer, payload: string) => createHmac('sha256', secret).update(CONTEXT + payload).digest('base64url');

/**
 * `<payload>.<mac>`, both base64url: the payload is the claim as JSON, the MAC is HMAC-SHA256 over
 * it. Readable by anyone who has the link (it names the file), changeable by no one without the secret.
 */
export function signFileToken(secret: Buffer, claim: FileClaim): string {
  const payload = Buffer.from(JSON.stringify({ k: claim.artifactKey, f: claim.filename, e: claim.expiresAt }), 'utf8').toString('base64url');
  return `${payload}.${mac(secret, payload)}`;
}

/**
 * Checks a token: `forged` when any character of it was changed (the MACs are compared as their
 * canonical base64url text, in constant time, so even the spare bits of the last character count),
 * `expired` when it is genuine but past its time. The signature is checked before the time, so a
 * changed expiry is `forged`, never `expired`.
 */
export function verifyFileToken(secret: Buffer, token: string, nowMs: number): TokenCheck {
  const parts = TOKEN.exec(token);
  if (!parts) return { ok: false, reason: 'forged' };
  const [, payload, given] = parts as unknown as [string, string, string];
  const expected = mac(secret, payload);
  if (!timingSafeEqual(Buffer.from(given, 'ascii'), Buffer.from(expected, 'ascii'))) return { ok: false, reason: 'forged' };
  let claim: FileClaim;
  try {
    const parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { k?: unknown; f?: unknown; e?: unknown };
    if (typeof parsed.k !== 'string' || typeof parsed.f !== 'string' || typeof parsed.e !== 'number') return { ok: false, reason: 'forged' };
    claim = { artifactKey: parsed.k, filename: parsed.f, expiresAt: parsed.e };
  } catch {
    return { ok: false, reason: 'forged' }; // only we sign, so this is a bug or a leaked secret
  }
  if (nowMs >= claim.expiresAt * 1000) return { ok: false, reason: 'expired' };
  return { ok: true, claim };
}
