/**
 * How many things each client address has under way (downloads), refusing more than `limit` at
 * once. 0 means no limit. Addresses with nothing under way are forgotten, so the map stays small.
 */
export interface AddressLimit {
  /** A release function when `address` may start one more, undefined when it is at its limit. Releasing twice is harmless. */
  acquire(address: string): (() => void) | undefined;
}

export function createAddressLimit(limit: number): AddressLimit {
  const active = new Map<string, number>();
  return {
    acquire(address) {
      const count = active.get(address) ?? 0;
      if (limit > 0 && count >= limit) return undefined;
      active.set(address, count + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (active.get(address) ?? 1) - 1;
        if (left > 0) active.set(address, left);
        else active.delete(address);
      };
    },
  };
}
