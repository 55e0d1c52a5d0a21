/** What every chaos scenario is and reports. */
import type { Tally } from './audit.js';
import type { ChaosInfra } from './infra.js';

export interface ScenarioContext {
  infra: ChaosInfra;
  /** The shorter run CI can afford (`--quick`): same faults, smaller numbers. */
  quick: boolean;
  /** Progress lines for the person watching. */
  log(line: string): void;
}

/** One row of the report. */
export interface ScenarioResult {
  /** Requests made (stream and chat), results delivered, lost, double-charged: from the tally. */
  tally: Tally;
  /** ms from the end of the fault (or the fault, when it is instant) until the work it hit was done; undefined: never; null: no fault to recover from. */
  recoverMs: number | null | undefined;
  /** Pass criteria not met, one line each; empty means pass. */
  failures: string[];
  /** Measurements worth reading beside the table. */
  notes: string[];
}

export interface Scenario {
  id: number;
  title: string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

/**
 * The criteria every scenario shares: nothing lost, nothing delivered twice, nothing charged
 * twice or wrongly, the command layer never threw. Returns the unmet ones.
 */
export function commonFailures(tally: Tally): string[] {
  const failures: string[] = [];
  if (tally.lost > 0) failures.push(`${tally.lost} accepted requests lost`);
  if (tally.duplicated > 0) failures.push(`${tally.duplicated} requests delivered more than once`);
  if (tally.doubleCharged > 0) failures.push(`${tally.doubleCharged} double charges`);
  if (tally.wronglyCharged > 0) failures.push(`${tally.wronglyCharged} wrong charges`);
  if (tally.refused.THREW) failures.push(`the command layer threw ${tally.refused.THREW} times`);
  if (tally.refused.APOLOGY) failures.push(`${tally.refused.APOLOGY} requests got the "something went wrong" apology`);
  return failures;
}
