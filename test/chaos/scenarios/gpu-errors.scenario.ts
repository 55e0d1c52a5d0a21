/**
 * 5. The GPU backend (self-hosted Cog containers, faked on loopback) answers 5xx for a while:
 * jobs wait and retry with backoff (HTTP retries, then job attempts), and finish once it is
 * back; those that run out of attempts are refunded and told, once. The full run keeps the
 * production retry settings (they ride out 30 s: about 28 s of retries per job, longer while
 * endpoints are shared); the quick run scales them down, so some jobs do run out.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeCog, type FakeCog } from '../../support/fake-cog.js';
import { drainedAfter } from '../audit.js';
import { openHarness } from '../harness.js';
import { userIds } from '../load.js';
import { commonFailures, type Scenario } from '../scenario.js';

export const gpuErrorsScenario: Scenario = {
  id: 5,
  title: 'GPU backend answers 5xx for a while',
  async run({ infra, quick, log }) {
    const cogs: FakeCog[] = await Promise.all(Array.from({ length: 4 }, () => startFakeCog({ serviceMs: 30 })));
    // The full run keeps the production retry settings and a 30 s outage; the quick one scales both down.
    const retry: Record<string, string> = quick ? { GPU_HTTP_RETRIES: '1', GPU_HTTP_RETRY_BASE_MS: '300', GPU_RETRY_BACKOFF_MS: '1000' } : {};
    const outageMs = quick ? 8_000 : 30_000;
    const h = await openHarness(infra, 'gpu-errors', {
      workers: 2,
      // LIKENESS_MIN=0: the fake containers' flat images show no face, and the likeness gate would regenerate them; not what this tests.
      env: { GPU_BACKEND: 'cog', COG_ENDPOINTS: cogs.map((c) => c.url).join(','), COG_RETRY_DEAD_MS: '1000', GPU_CONCURRENCY: '2', LIKENESS_MIN: '0', ...retry },
    });
    try {
      const users = userIds(5_000, 30);
      await h.load.consent(users);
      const stream = h.load.stream({ ratePerSec: 3, durationMs: outageMs + (quick ? 6_000 : 12_000), users });
      await sleep(3_000);
      for (const cog of cogs) cog.failNext({ status: 500, times: 1_000_000 });
      const brokeAt = Date.now();
      log(`  every Cog endpoint answers 500 for ${outageMs / 1000} s`);
      await sleep(outageMs);
      for (const cog of cogs) cog.reset();
      const fixedAt = Date.now();
      log('  Cog endpoints healthy again');
      await stream;
      const settled = await h.settle(120_000);
      await sleep(1_000);
      const tally = await h.tally();
      const jobs = await h.jobs();
      const chats = h.deliveries.byChat();
      const failures = commonFailures(tally);
      if (!settled) failures.push('work still outstanding 120 s after the stream ended');
      // Waited: held by the retries (HTTP retries inside an attempt, then attempts) across part of the outage, then done.
      const waitedAndFinished = jobs.filter((j) => j.status === 'succeeded' && (j.attempts > 1 || (j.finishedAt ?? 0) - j.createdAt > 5_000)).length;
      const gaveUp = jobs.filter((j) => j.status === 'failed');
      if (waitedAndFinished === 0) failures.push('no job waited through the outage and then finished');
      // With the production settings a 30 s outage is ridden out; the quick run's shorter retries make some jobs run out.
      if (quick && gaveUp.length === 0) failures.push('no job ran out of attempts, so "refunded and told" was not tested');
      const wrongCode = gaveUp.filter((j) => j.errorCode !== 'GPU_UNAVAILABLE');
      if (wrongCode.length > 0) failures.push(`${wrongCode.length} jobs failed with ${wrongCode[0]!.errorCode} instead of GPU_UNAVAILABLE`);
      const lateOnes = h.load.records.filter((r) => r.sentAt > fixedAt + 1_000 && r.jobId && !(chats.get(r.chatId)?.albums.length ?? 0));
      if (lateOnes.length > 0) failures.push(`${lateOnes.length} requests made after the recovery did not get their portraits`);
      const predictions = cogs.reduce((n, c) => n + c.started.length, 0);
      return {
        tally,
        recoverMs: drainedAfter(fixedAt, h.load.records, chats),
        failures,
        notes: [
          `outage ${((fixedAt - brokeAt) / 1000).toFixed(0)} s (${quick ? 'retries scaled down' : 'production retry settings'}); ${waitedAndFinished} jobs waited through it and finished, ${gaveUp.length} ran out of attempts (refunded, told); ${predictions} predictions ran`,
        ],
      };
    } finally {
      await h.close();
      await Promise.all(cogs.map((c) => c.close()));
    }
  },
};
