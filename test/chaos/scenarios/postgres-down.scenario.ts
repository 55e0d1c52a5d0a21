/**
 * 4. Postgres stopped during a burst and started again: requests meanwhile get a clear error (not
 * an apology for a bug), nothing is charged without a job, work acknowledged before ends (done,
 * or refunded and told), and the service takes requests again without any process restarted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { drainedAfter, quantile } from '../audit.js';
import { openHarness } from '../harness.js';
import { replyMs, userIds } from '../load.js';
import { commonFailures, type Scenario } from '../scenario.js';

const LIMIT_MS = 6_000;

export const postgresDownScenario: Scenario = {
  id: 4,
  title: 'Postgres stopped during a burst',
  async run({ infra, quick, log }) {
    const h = await openHarness(infra, 'postgres-down', { workers: 2, env: { INSTANT_BACKEND_DELAY_MS: '300', GPU_CONCURRENCY: '2' } });
    try {
      const users = userIds(4_000, 40);
      await h.load.consent(users);
      const pids = h.processes().map((p) => p.pid);
      const downMs = quick ? 4_000 : 8_000;
      const stream = h.load.stream({ ratePerSec: 10, durationMs: quick ? 12_000 : 24_000, users });
      await sleep(3_000);
      const { rows } = await h.app.database.pool.query(`select status, count(*)::int as n from jobs where status in ('queued', 'running') group by status`);
      await infra.postgres.stop();
      const downAt = Date.now();
      log(`  postgres stopped with ${rows.map((r) => `${r.n} ${r.status}`).join(', ') || 'no jobs active'}`);
      await sleep(downMs);
      await infra.postgres.start();
      const upAt = Date.now();
      log(`  postgres back after ${((upAt - downAt) / 1000).toFixed(1)} s`);
      await stream;
      const settled = await h.settle(150_000);
      await sleep(1_000);
      const tally = await h.tally();
      const chats = h.deliveries.byChat();
      const failures = commonFailures(tally);
      if (!settled) failures.push('work still outstanding 150 s after the stream ended');
      const outage = h.load.records.filter((r) => r.sentAt >= downAt && r.sentAt < upAt);
      const unclear = outage.filter((r) => !r.jobId && r.code !== 'SERVICE_UNAVAILABLE');
      if (unclear.length > 0) failures.push(`${unclear.length} requests during the outage got no clear error (${[...new Set(unclear.map((r) => r.code))].join(', ')})`);
      const slow = outage.filter((r) => !(replyMs(r) <= LIMIT_MS));
      if (slow.length > 0) failures.push(`${slow.length} answers during the outage took over ${LIMIT_MS / 1000} s`);
      const after = h.load.records.filter((r) => r.sentAt >= upAt + 2_000);
      const afterOk = after.filter((r) => (chats.get(r.chatId)?.albums.length ?? 0) > 0);
      if (after.length === 0 || afterOk.length < after.length) failures.push(`after Postgres came back ${afterOk.length} of ${after.length} requests got their portraits`);
      const restarted = h.processes().filter((p, i) => p.pid !== pids[i] || !p.alive);
      if (restarted.length > 0) failures.push(`${restarted.map((p) => p.name).join(', ')} did not survive the outage`);
      const times = outage.map(replyMs);
      return {
        tally,
        recoverMs: drainedAfter(upAt, h.load.records, chats),
        failures,
        notes: [
          `outage ${(upAt - downAt) / 1000} s: ${outage.length} requests answered in p50 ${quantile(times, 0.5)} ms, max ${Math.max(...times)} ms`,
          `${tally.failedTold} jobs the outage ended were refunded and told; ${tally.rerun} jobs ran more than once`,
        ],
      };
    } finally {
      await h.close();
    }
  },
};
