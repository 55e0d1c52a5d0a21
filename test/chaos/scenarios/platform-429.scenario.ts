/**
 * 6. The chat platform answers 429 for a while (Telegram's flood control, played by a proxy in
 * front of the fake): every result still arrives exactly once, the bot sends no faster than it
 * is let through, and it waits out each `retry_after` before asking again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { drainedAfter } from '../audit.js';
import { openHarness } from '../harness.js';
import { userIds } from '../load.js';
import { startRateLimitProxy, type RateLimitProxy } from '../rate-limit-proxy.js';
import { commonFailures, type Scenario } from '../scenario.js';

const PER_SECOND = 4;
const RETRY_AFTER_S = 2;

export const platform429Scenario: Scenario = {
  id: 6,
  title: 'Chat platform answers 429 for a while',
  async run({ infra, quick, log }) {
    let proxy: RateLimitProxy | undefined;
    const h = await openHarness(infra, 'platform-429', {
      workers: 1,
      telegramApiRoot: async (fake) => (proxy = await startRateLimitProxy(fake.url)).url,
    });
    try {
      const users = userIds(6_000, 30);
      await h.load.consent(users);
      const limitMs = quick ? 8_000 : 20_000;
      const stream = h.load.stream({ ratePerSec: 5, durationMs: limitMs + 5_000, users });
      await sleep(3_000);
      proxy!.limit(PER_SECOND, RETRY_AFTER_S);
      const limitedAt = Date.now();
      log(`  Telegram lets ${PER_SECOND} messages a second through for ${limitMs / 1000} s, 429 (retry after ${RETRY_AFTER_S} s) for the rest`);
      await sleep(limitMs);
      proxy!.unlimit();
      const freedAt = Date.now();
      await stream;
      const settled = await h.settle(180_000);
      await sleep(1_000);
      const tally = await h.tally();
      const failures = commonFailures(tally);
      if (!settled) failures.push('work still outstanding 180 s after the stream ended');
      const { passed, limited, early } = proxy!.stats;
      if (limited === 0) failures.push('no 429 was answered, so nothing was tested');
      // The proxy enforces the pace; check it against its own record all the same.
      const peak = Math.max(0, ...passed.map((t) => passed.filter((u) => u >= t && u < t + 1_000).length));
      if (peak > PER_SECOND) failures.push(`${peak} messages went through in one second (allowed ${PER_SECOND})`);
      if (early > 0) failures.push(`${early} requests came back before their retry_after was up`);
      if (tally.failedTold > 0) failures.push(`${tally.failedTold} jobs failed`);
      return {
        tally,
        recoverMs: drainedAfter(freedAt, h.load.records, h.deliveries.byChat()),
        failures,
        notes: [`limited ${((freedAt - limitedAt) / 1000).toFixed(0)} s: ${passed.length} sends let through (peak ${peak}/s), ${limited} answered 429, ${early} early retries`],
      };
    } finally {
      await h.close();
      await proxy?.close();
    }
  },
};
