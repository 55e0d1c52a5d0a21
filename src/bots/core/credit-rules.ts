import { AppError } from '../../errors.js';

/** What an account can spend right now: its paid credits and what is left of today's free ones. */
export interface Balance {
  paid: number;
  freeLeft: number;
}

/** How a charge is drawn from the two pockets. */
export interface Charge {
  free: number;
  paid: number;
}

export const spendable = (balance: Balance): number => Math.max(0, balance.paid) + Math.max(0, balance.freeLeft);

/** Splits `price` between the pockets, free credits first (they lapse at midnight UTC); undefined when it cannot be paid. */
export function splitCharge(price: number, balance: Balance): Charge | undefined {
  if (price <= 0) return { free: 0, paid: 0 };
  if (spendable(balance) < price) return undefined;
  const free = Math.min(price, Math.max(0, balance.freeLeft));
  return { free, paid: price - free };
}

/** The ledger's day for free credits: the UTC calendar date, `YYYY-MM-DD`. */
export const utcDay = (now: Date): string => now.toISOString().slice(0, 10);

export interface SubmissionRules {
  freeDaily: number;
  maxActiveJobs: number;
}

/** Why a new job of `price` cannot be accepted, or undefined when it can (cap first: it is the clearer message). */
export function refusalFor(price: number, balance: Balance, activeJobs: number, rules: SubmissionRules): AppError | undefined {
  if (activeJobs >= rules.maxActiveJobs) {
    return new AppError('TOO_MANY_ACTIVE_JOBS', 'active job cap reached', { details: { active: activeJobs, max: rules.maxActiveJobs } });
  }
  if (!splitCharge(price, balance)) {
    return new AppError('QUOTA_EXCEEDED', 'not enough credits', { details: { price, balance: spendable(balance) } });
  }
  return undefined;
}
