/** The chaos report: one table, then the notes and failures. Pure. */
import type { ScenarioResult } from './scenario.js';

export interface ReportRow {
  id: number;
  title: string;
  result?: ScenarioResult;
  /** The scenario itself crashed (set-up, a timeout): it fails. */
  error?: string;
  ms: number;
}

const seconds = (ms: number | undefined) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`);

function pad(cells: string[][]): string {
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((row) => row[c]!.length)));
  return cells.map((row) => row.map((cell, c) => (c === 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

export const passed = (row: ReportRow): boolean => !row.error && row.result !== undefined && row.result.failures.length === 0;

export function renderReport(rows: readonly ReportRow[]): string {
  const header = ['#', 'scenario', 'requests', 'delivered', 'lost', 'double-charged', 'time to recover', 'took', 'verdict'];
  const body = rows.map((row) => {
    const t = row.result?.tally;
    const delivered = t ? `${t.delivered}${t.failedTold ? ` (+${t.failedTold} refunded)` : ''}` : '-';
    return [
      String(row.id),
      row.title,
      t ? String(t.requests) : '-',
      delivered,
      t ? String(t.lost) : '-',
      t ? String(t.doubleCharged) : '-',
      row.result && row.result.recoverMs !== null ? seconds(row.result.recoverMs) : '-',
      seconds(row.ms),
      passed(row) ? 'pass' : 'FAIL',
    ];
  });
  const lines = [pad([header, ...body]), ''];
  for (const row of rows) {
    const t = row.result?.tally;
    const refused = t ? Object.entries(t.refused).map(([code, n]) => `${n} ${code}`) : [];
    const facts = [...(row.result?.notes ?? []), ...(refused.length ? [`refused: ${refused.join(', ')}`] : [])];
    if (facts.length) lines.push(`${row.id}. ${facts.join('; ')}`);
    if (row.error) lines.push(`   FAILED TO RUN: ${row.error}`);
    for (const failure of row.result?.failures ?? []) lines.push(`   FAIL: ${failure}`);
    for (const p of passed(row) ? [] : (t?.problems ?? [])) lines.push(`     - ${p}`);
  }
  return lines.join('\n');
}
