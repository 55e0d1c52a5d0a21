/**
 * 1. A GPU worker killed with SIGKILL mid-job, again and again: every request gets exactly one
 * result and one charge. The killed worker is started again at once; its jobs run again on any
 * worker once their lock lapses (GPU_JOB_LOCK_MS).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { drainedAfter } from '../audit.js';
import { openHarness } from '../harness.js';
import { userIds } from '../load.js';
import { commonFailures, type Scenario } from '../scenario.js';

export const workerKillScenario: Scenario = {
  id: 1,
  title: 'GPU worker SIGKILLed mid-job, repeatedly',
  async run({ infra, quick, log }) {
    const h = await openHarness(infra, 'worker-kill', { workers: 2, env: { INSTANT_BACKEND_DELAY_MS: '500', GPU_CONCURRENCY: '3', GPU_JOB_LOCK_MS: '3000' } });
    try {
      const users = userIds(1_000, 30);
      await h.load.consent(users);
      const durationMs = quick ? 10_000 : 30_000;
      let streaming = true;
      const stream = h.load.stream({ ratePerSec: 8, durationMs, users }).finally(() => (streaming = false));
      const kills: number[] = [];
      await sleep(2_000);
      for (let i = 0; streaming; i++) {
        const victim = h.workers[i % h.workers.length]!;
        const { rows } = await h.app.database.pool.query(`select count(*)::int as n from jobs where status = 'running'`);
        await victim.kill();
        kills.push(Date.now());
        log(`  SIGKILL ${victim.name} (${rows[0].n} jobs running across the workers)`);
        await victim.start();
        await sleep(2_500);
      }
      await stream;
      const settled = await h.settle(90_000);
      await sleep(1_000); // a late duplicate would show up here
      const tally = await h.tally();
      const chats = h.deliveries.byChat();
      const recoveries = kills.map((at) => drainedAfter(at, h.load.records, chats));
      const failures = commonFailures(tally);
      if (!settled) failures.push('work still outstanding 90 s after the stream ended');
      if (tally.failedTold > 0) failures.push(`${tally.failedTold} requests failed instead of getting their result`);
      if (tally.accepted !== tally.requests) failures.push(`${tally.requests - tally.accepted} requests refused`);
      if (tally.rerun === 0) failures.push('no job ran twice: the kills did not hit a running job, so nothing was tested');
      return {
        tally,
        recoverMs: recoveries.includes(undefined) ? undefined : Math.max(...(recoveries as number[])),
        failures,
        notes: [`${kills.length} kills; ${tally.rerun} jobs ran again after their worker died; lock ${h.env.GPU_JOB_LOCK_MS} ms`],
      };
    } finally {
      await h.close();
    }
  },
};
