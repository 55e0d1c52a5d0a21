/**
 * 9. Many users and one flooding: 199 people each wait for their portraits before asking again,
 * first on their own (the baseline), then while one more person fires requests as fast as the
 * stream allows. The flooder is held to MAX_ACTIVE_JOBS_PER_USER, and the others' queue wait
 * (a job's start minus its creation, from Postgres) stays within 2× of the baseline.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { quantile, type JobRow } from '../audit.js';
import { openHarness, type Harness } from '../harness.js';
import { userIds, type RequestRecord } from '../load.js';
import { commonFailures, type Scenario } from '../scenario.js';

const CAP = 2;

interface Phase {
  records: RequestRecord[];
  ms: number;
}

/** Each of `users` asks `perUser` times, waiting for each result; the flooder (if any) fires at `floodRate` a second meanwhile. */
async function phase(h: Harness, users: readonly string[], perUser: number, flood?: { user: string; total: number; ratePerSec: number }): Promise<Phase> {
  const from = h.load.records.length;
  const started = Date.now();
  let othersDone = false;
  const lane = async (user: string) => {
    for (let k = 0; k < perUser; k++) {
      const record = await h.load.submit(user);
      if (record.jobId) await h.deliveries.album(record.chatId, 180_000).catch(() => undefined);
      else await sleep(250);
    }
  };
  const flooder = async () => {
    if (!flood) return;
    const pending: Array<Promise<unknown>> = [];
    for (let i = 0; i < flood.total; i++) {
      const due = started + (i * 1000) / flood.ratePerSec;
      if (due > Date.now()) await sleep(due - Date.now());
      if (othersDone) break;
      pending.push(h.load.submit(flood.user));
    }
    await Promise.all(pending);
  };
  await Promise.all([Promise.all(users.map(lane)).then(() => (othersDone = true)), flooder()]);
  return { records: h.load.records.slice(from), ms: Date.now() - started };
}

/** Pure: queue waits (ms) of the jobs of `records`. */
function queueWaits(records: readonly RequestRecord[], jobs: ReadonlyMap<string, JobRow>): number[] {
  return records.flatMap((r) => {
    const job = r.jobId ? jobs.get(r.jobId) : undefined;
    return job?.startedAt ? [job.startedAt - job.createdAt] : [];
  });
}

/**
 * Pure: the most jobs of `records` active at one moment, each active from its reply (it surely
 * existed then; the row's created_at is when the request arrived, before the cap was checked)
 * until its finished_at.
 */
function peakActive(records: readonly RequestRecord[], jobs: ReadonlyMap<string, JobRow>): number {
  const edges = records.flatMap((r) => {
    const job = r.jobId ? jobs.get(r.jobId) : undefined;
    return job && r.repliedAt ? [{ at: r.repliedAt, d: 1 }, { at: job.finishedAt ?? Number.POSITIVE_INFINITY, d: -1 }] : [];
  });
  edges.sort((a, b) => a.at - b.at || a.d - b.d); // an end at the same ms as a start frees the slot first
  let active = 0;
  let peak = 0;
  for (const e of edges) peak = Math.max(peak, (active += e.d));
  return peak;
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export const flooderScenario: Scenario = {
  id: 9,
  title: 'One user floods among 200',
  async run({ infra, quick, log }) {
    const h = await openHarness(infra, 'flooder', { workers: 2, env: { INSTANT_BACKEND_DELAY_MS: '250', GPU_CONCURRENCY: '4', MAX_ACTIVE_JOBS_PER_USER: String(CAP) } });
    try {
      const others = userIds(9_000, 199);
      const flooder = '9999999';
      await h.load.consent([...others, flooder]);
      // 10,000 requests in the flood phase (1,000 quick): the others' share, the rest the flooder's.
      const total = quick ? 1_000 : 10_000;
      const perUser = quick ? 1 : 10;
      const baseline = await phase(h, others, perUser);
      log(`  baseline: ${baseline.records.length} requests from ${others.length} users in ${fmt(baseline.ms)}`);
      const floodTotal = total - others.length * perUser;
      const flooded = await phase(h, others, perUser, { user: flooder, total: floodTotal, ratePerSec: (floodTotal / baseline.ms) * 1000 * 1.1 });
      log(`  with the flooder: ${flooded.records.length} requests in ${fmt(flooded.ms)}`);
      await h.settle(120_000);
      await sleep(1_000);
      const tally = await h.tally();
      const jobs = await h.jobs();
      const byId = new Map(jobs.map((j) => [j.id, j]));
      const failures = commonFailures(tally);
      const isOther = (r: RequestRecord) => r.userId !== flooder;
      const base = queueWaits(baseline.records.filter(isOther), byId);
      const withFlood = queueWaits(flooded.records.filter(isOther), byId);
      const floodRecords = flooded.records.filter((r) => !isOther(r));
      const floodJobs = jobs.filter((j) => j.platformUserId === flooder);
      const peak = peakActive(floodRecords, byId);
      const capped = floodRecords.filter((r) => r.code === 'TOO_MANY_ACTIVE_JOBS').length;
      if (peak > CAP) failures.push(`the flooder had ${peak} jobs active at once (cap ${CAP})`);
      if (capped === 0) failures.push('the flooder was never refused, so the cap was not tested');
      for (const q of [0.5, 0.95]) {
        const [b, f] = [quantile(base, q), quantile(withFlood, q)];
        if (!(f <= 2 * b)) failures.push(`others' p${q * 100} queue wait ${fmt(f)} with the flooder, over 2× the ${fmt(b)} without`);
      }
      const othersRefused = flooded.records.filter((r) => isOther(r) && !r.jobId).length;
      if (othersRefused > 0) failures.push(`${othersRefused} requests of the others were refused`);
      return {
        tally,
        recoverMs: null,
        failures,
        notes: [
          `flood phase: ${flooded.records.length} requests (flooder ${floodRecords.length}: ${floodJobs.length} jobs, ${capped} refused TOO_MANY_ACTIVE_JOBS, peak ${peak} active)`,
          `others' queue wait p50/p95: ${fmt(quantile(base, 0.5))}/${fmt(quantile(base, 0.95))} alone, ${fmt(quantile(withFlood, 0.5))}/${fmt(quantile(withFlood, 0.95))} with the flooder`,
        ],
      };
    } finally {
      await h.close();
    }
  },
};
