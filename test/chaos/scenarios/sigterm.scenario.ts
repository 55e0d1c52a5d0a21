/**
 * 7. SIGTERM to every process during load (a deploy): running jobs finish (or go back to the
 * queue) and each process exits 0; requests keep being accepted meanwhile; after the restart
 * nothing is lost and nothing is processed twice.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { drainedAfter } from '../audit.js';
import { openHarness } from '../harness.js';
import { userIds } from '../load.js';
import { commonFailures, type Scenario } from '../scenario.js';

export const sigtermScenario: Scenario = {
  id: 7,
  title: 'SIGTERM to every process during load, then restart',
  async run({ infra, quick, log }) {
    // Jobs take 1.5 s on the "GPU", so some are surely running when the signal comes.
    const h = await openHarness(infra, 'sigterm', { workers: 2, env: { INSTANT_BACKEND_DELAY_MS: '1500', GPU_CONCURRENCY: '4' } });
    try {
      const users = userIds(7_000, 30);
      await h.load.consent(users);
      const stream = h.load.stream({ ratePerSec: 5, durationMs: quick ? 11_000 : 24_000, users });
      await sleep(4_000);
      const { rows } = await h.app.database.pool.query(`select count(*)::int as n from jobs where status = 'running'`);
      const termAt = Date.now();
      const codes = await Promise.all(h.processes().map((p) => p.terminate()));
      const stoppedAt = Date.now();
      log(`  SIGTERM with ${rows[0].n} jobs running; all exited in ${((stoppedAt - termAt) / 1000).toFixed(1)} s with ${codes.join(', ')}`);
      const { rows: after } = await h.app.database.pool.query(`select count(*)::int as n from jobs where status = 'running'`);
      await sleep(2_000);
      await Promise.all(h.processes().map((p) => p.start()));
      const restartedAt = Date.now();
      await stream;
      const settled = await h.settle(90_000);
      await sleep(1_000);
      const tally = await h.tally();
      const failures = commonFailures(tally);
      if (!settled) failures.push('work still outstanding 90 s after the stream ended');
      const unclean = h.processes().flatMap((p, i) => (codes[i] === 0 ? [] : [`${p.name} exited ${codes[i]}`]));
      if (unclean.length > 0) failures.push(`${unclean.join(', ')} on SIGTERM`);
      if (rows[0].n === 0) failures.push('no job was running at the signal, so nothing was tested');
      if (tally.rerun > 0) failures.push(`${tally.rerun} jobs were processed twice`);
      if (tally.failedTold > 0) failures.push(`${tally.failedTold} jobs failed`);
      return {
        tally,
        recoverMs: drainedAfter(restartedAt, h.load.records, h.deliveries.byChat()),
        failures,
        notes: [`${rows[0].n} running at SIGTERM, ${after[0].n} still marked running after every process exited; shutdown took ${((stoppedAt - termAt) / 1000).toFixed(1)} s`],
      };
    } finally {
      await h.close();
    }
  },
};
