/**
 * 2. Redis killed (SIGKILL; AOF with fsync on every write) and started again while jobs are
 * queued and running: the processes reconnect by themselves (none is restarted), and every job
 * acknowledged before the crash completes and reaches its chat once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { drainedAfter } from '../audit.js';
import { openHarness } from '../harness.js';
import { userIds } from '../load.js';
import { commonFailures, type Scenario } from '../scenario.js';

export const redisRestartScenario: Scenario = {
  id: 2,
  title: 'Redis restarted with jobs queued and running',
  async run({ infra, quick, log }) {
    const h = await openHarness(infra, 'redis-restart', { workers: 2, env: { INSTANT_BACKEND_DELAY_MS: '300', GPU_CONCURRENCY: '2' } });
    try {
      const users = userIds(2_000, 40);
      await h.load.consent(users);
      const pids = h.processes().map((p) => p.pid);
      // A backlog first (more than the workers can take at once), then a steady stream across the outage.
      await Promise.all(users.slice(0, 30).map((u) => h.load.submit(u)));
      const stream = h.load.stream({ ratePerSec: 8, durationMs: quick ? 10_000 : 24_000, users });
      await sleep(3_000);
      const { rows } = await h.app.database.pool.query(`select status, count(*)::int as n from jobs where status in ('queued', 'running') group by status`);
      const killedAt = Date.now();
      await infra.redis.kill();
      log(`  SIGKILL redis with ${rows.map((r) => `${r.n} ${r.status}`).join(', ') || 'no jobs active'}`);
      await sleep(3_000);
      await infra.redis.start();
      const restartedAt = Date.now();
      log(`  redis back after ${((restartedAt - killedAt) / 1000).toFixed(1)} s`);
      await stream;
      const settled = await h.settle(120_000);
      await sleep(1_000);
      const tally = await h.tally();
      const chats = h.deliveries.byChat();
      const failures = commonFailures(tally);
      if (!settled) failures.push('work still outstanding 120 s after the stream ended');
      const before = h.load.records.filter((r) => r.jobId && r.repliedAt! < killedAt);
      const unfinished = before.filter((r) => !(chats.get(r.chatId)?.albums.length ?? 0));
      if (unfinished.length > 0) failures.push(`${unfinished.length} of ${before.length} jobs acknowledged before the crash did not complete`);
      const restarted = h.processes().filter((p, i) => p.pid !== pids[i] || !p.alive);
      if (restarted.length > 0) failures.push(`${restarted.map((p) => p.name).join(', ')} did not survive the outage`);
      return {
        tally,
        recoverMs: drainedAfter(restartedAt, h.load.records, chats),
        failures,
        notes: [`${before.length} acknowledged before the crash; ${tally.rerun} jobs ran more than once`],
      };
    } finally {
      await h.close();
    }
  },
};
