/**
 * `npm run chaos [-- --quick] [-- --only 1,3] [-- --keep]`: starts its own Redis (AOF on) and
 * Postgres on spare ports, runs each scenario against the real processes with a steady stream of
 * portrait requests, breaks something, and prints one table. Exits 1 when any scenario fails.
 */
import { parseArgs } from 'node:util';
import { prepareDatabase } from '../../src/db/client.js';
import { TEMPLATE_DB } from './harness.js';
import { startInfra, type ChaosInfra } from './infra.js';
import { passed, renderReport, type ReportRow } from './report.js';
import type { Scenario } from './scenario.js';
import { duplicateEventsScenario } from './scenarios/duplicate-events.scenario.js';
import { flooderScenario } from './scenarios/flooder.scenario.js';
import { gpuErrorsScenario } from './scenarios/gpu-errors.scenario.js';
import { platform429Scenario } from './scenarios/platform-429.scenario.js';
import { postgresDownScenario } from './scenarios/postgres-down.scenario.js';
import { redisDownScenario } from './scenarios/redis-down.scenario.js';
import { redisRestartScenario } from './scenarios/redis-restart.scenario.js';
import { sigtermScenario } from './scenarios/sigterm.scenario.js';
import { workerKillScenario } from './scenarios/worker-kill.scenario.js';

export const SCENARIOS: Scenario[] = [workerKillScenario, redisRestartScenario, redisDownScenario, postgresDownScenario, gpuErrorsScenario, platform429Scenario, sigtermScenario, duplicateEventsScenario, flooderScenario];

/** A scenario that has not finished in this long is failed (and the run goes on). */
const SCENARIO_LIMIT_MS = 10 * 60_000;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, keep: { type: 'boolean', default: false } },
  });
  const only = values.only ? new Set(values.only.split(',').map(Number)) : undefined;
  const chosen = SCENARIOS.filter((s) => !only || only.has(s.id));
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const started = Date.now();
  let infra: ChaosInfra | undefined;
  const stop = () => {
    void infra?.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    infra = await startInfra('chaos');
    log(`chaos: Redis ${infra.redis.url} (AOF, fsync always), Postgres ${infra.postgres.serverUrl}, files in ${infra.root}`);
    await prepareDatabase(`${infra.postgres.serverUrl}/${TEMPLATE_DB}`);
    const rows: ReportRow[] = [];
    for (const scenario of chosen) {
      log(`\n[${scenario.id}] ${scenario.title}${values.quick ? ' (quick)' : ''}`);
      const t0 = Date.now();
      const row: ReportRow = { id: scenario.id, title: scenario.title, ms: 0 };
      try {
        row.result = await withLimit(scenario.run({ infra, quick: values.quick, log }), SCENARIO_LIMIT_MS);
      } catch (error) {
        row.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
      }
      row.ms = Date.now() - t0;
      rows.push(row);
      log(`[${scenario.id}] ${passed(row) ? 'pass' : 'FAIL'} in ${(row.ms / 1000).toFixed(1)} s`);
      // The next scenario starts on an empty Redis (its queue prefix is its own anyway).
      await flushRedis(infra);
    }
    log(`\n${renderReport(rows)}\n\nchaos: ${rows.filter(passed).length}/${rows.length} scenarios passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (values.keep) log(`logs kept in ${infra.root}/logs`);
    return rows.every(passed) ? 0 : 1;
  } finally {
    if (infra && !values.keep) await infra.close();
  }
}

async function flushRedis(infra: ChaosInfra): Promise<void> {
  if (!infra.redis.running) await infra.redis.start();
  const { Redis } = await import('ioredis');
  const client = new Redis(infra.redis.url);
  try {
    await client.flushall();
  } finally {
    client.disconnect();
  }
}

function withLimit<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`did not finish within ${ms / 1000} s`)), ms)));
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
