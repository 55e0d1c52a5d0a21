/** How failed logins slow an address down. */
export interface LoginThrottleOptions {
  /** Failures allowed before any wait (typos). Default 5. */
  freeFailures?: number;
  /** The wait after the first failure past the free ones; it doubles with each further one. Default 1 s. */
  baseDelayMs?: number;
  /** The longest wait. Default 15 min. */
  maxDelayMs?: number;
  /** Addresses remembered at most; the oldest are forgotten first. Default 10,000. */
  maxAddresses?: number;
  now?: () => number;
}

/** Per-address failed-login bookkeeping: exponential waits after a few free failures. */
export interface LoginThrottle {
  /** Milliseconds `address` must still wait before an attempt of its is even checked; 0 when it may try. */
  waitMs(address: string): number;
  /** Records a failed attempt: how many in a row, and the wait it now has. */
  failed(address: string): { failures: number; waitMs: number };
  /** Forgets the address's failures (after a correct password). */
  succeeded(address: string): void;
}

interface Record {
  failures: number;
  lastFailure: number;
  lockedUntil: number;
}

export function createLoginThrottle(options: LoginThrottleOptions = {}): LoginThrottle {
  const free = options.freeFailures ?? 5;
  const base = options.baseDelayMs ?? 1_000;
  const max = options.maxDelayMs ?? 15 * 60_000;
  const maxAddresses = options.maxAddresses ?? 10_000;
  const now = options.now ?? Date.now;
  const records = new Map<string, Record>();

  /** A record is forgotten once it has been quiet for twice the longest wait. */
  const current = (address: string): Record | undefined => {
    const record = records.get(address);
    if (record && now() - record.lastFailure > 2 * max) {
      records.delete(address);
      return undefined;
    }
    return record;
  };

  return {
    waitMs(address) {
      const record = current(address);
      return record ? Math.max(0, record.lockedUntil - now()) : 0;
    },
    failed(address) {
      const failures = (current(address)?.failures ?? 0) + 1;
      const waitMs = failures <= free ? 0 : Math.min(max, base * 2 ** (failures - free - 1));
      records.delete(address); // re-inserted last: the map's order is oldest first
      records.set(address, { failures, lastFailure: now(), lockedUntil: now() + waitMs });
      if (records.size > maxAddresses) records.delete(records.keys().next().value!);
      return { failures, waitMs };
    },
    succeeded(address) {
      records.delete(address);
    },
  };
}
