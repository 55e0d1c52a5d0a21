import type { RouteHandler } from './server.js';
import { respond } from './server.js';

/**
 * One dependency's check: resolves (optionally with a short detail) when it answers, rejects when
 * it does not. It should stop when `signal` aborts; its answer is ignored after the time limit anyway.
 */
export type ReadinessCheck = (signal: AbortSignal) => Promise<string | void>;

/** How one part answered. `error` is a short, operator-facing reason (never a secret or a URL with one). */
export interface PartStatus {
  ok: boolean;
  ms: number;
  detail?: string;
  error?: string;
}

export interface ReadinessReport {
  ready: boolean;
  parts: Record<string, PartStatus>;
}

/** Every part checked at once, each within the time limit. */
export interface Readiness {
  check(): Promise<ReadinessReport>;
}

const DEFAULT_TIMEOUT_MS = 2_000;

/** A short reason for a failed check: the error's message, first line, clipped. */
const reasonOf = (error: unknown): string => {
  const message = error instanceof Error ? error.message || error.name : String(error);
  const line = message.split('\n')[0]!.trim() || 'failed';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
};

/**
 * Readiness over named checks (`postgres`, `redis`, `gpu`): all run in parallel, each gets
 * `timeoutMs` (default 2 s) before it counts as failed, so one hung dependency cannot hold the probe.
 */
export function createReadiness(checks: Record<string, ReadinessCheck>, options: { timeoutMs?: number } = {}): Readiness {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  async function run(check: ReadinessCheck): Promise<PartStatus> {
    const started = performance.now();
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      const detail = await Promise.race([check(controller.signal), limit]);
      return { ok: true, ms: Math.round(performance.now() - started), ...(detail ? { detail } : {}) };
    } catch (error) {
      return { ok: false, ms: Math.round(performance.now() - started), error: reasonOf(error) };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async check() {
      const names = Object.keys(checks);
      const statuses = await Promise.all(names.map((name) => run(checks[name]!)));
      const parts = Object.fromEntries(names.map((name, i) => [name, statuses[i]!]));
      return { ready: statuses.every((s) => s.ok), parts };
    },
  };
}

/** `GET /readyz`: 200 with each part's status when every part answers, 503 (same JSON) naming what failed otherwise. */
export function readinessRoute(readiness: Readiness): RouteHandler {
  return async (_req, res) => {
    const report = await readiness.check();
    res.setHeader('cache-control', 'no-store');
    const failed = Object.entries(report.parts).flatMap(([name, part]) => (part.ok ? [] : [name]));
    respond(res, report.ready ? 200 : 503, report.ready ? report : { ...report, failed });
  };
}
