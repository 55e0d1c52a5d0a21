import { AppError } from '../../../errors.js';
import type { Account, Job } from '../model.js';
import type { Request } from '../request.js';

/** The idempotency key of the job a request makes: the platform's own event id. */
export const eventKey = (request: Request): string => `${request.platform}:${request.eventId}`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The request's target id, or the given not-found error when it is missing or malformed. */
export function requireTarget(request: Request, notFound: 'RESULT_NOT_FOUND' | 'JOB_NOT_FOUND'): string {
  const target = request.target?.trim();
  if (!target || !UUID.test(target)) throw new AppError(notFound, 'missing or malformed target');
  return target.toLowerCase();
}

/** Whether the job is the account's: the one ownership rule, for buttons, reactions and commands alike. */
export const isOwner = (account: Pick<Account, 'id'> | undefined, job: Pick<Job, 'accountId'>): boolean => account !== undefined && job.accountId === account.id;

/** Refuses with NOT_YOURS unless the job is the account's. */
export function requireOwner(account: Pick<Account, 'id'>, job: Pick<Job, 'accountId'>): void {
  if (!isOwner(account, job)) throw new AppError('NOT_YOURS', 'job belongs to someone else');
}
