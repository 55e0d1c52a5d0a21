import { AppError } from '../../../errors.js';
import type { Request } from '../request.js';

/** Portraits come in sets of four: one credit each by default. */
export const VARIANTS = 4;
/** The 8K long edge. */
export const UPSCALE_LONG_EDGE = 7680;

/** The idempotency key of the job a request makes: the platform's own event id. */
export const eventKey = (request: Request): string => `${request.platform}:${request.eventId}`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The request's target id, or the given not-found error when it is missing or malformed. */
export function requireTarget(request: Request, notFound: 'RESULT_NOT_FOUND' | 'JOB_NOT_FOUND'): string {
  const target = request.target?.trim();
  if (!target || !UUID.test(target)) throw new AppError(notFound, 'missing or malformed target');
  return target.toLowerCase();
}
