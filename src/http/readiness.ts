import type { Logger } from '../logger.js';
import type { RouteHandler } from './server.js';
import { respond } from './server.js';

/**
 * One dependency's check: resolves (optionally with a short detail) when it answers, rejects when
 * it does not. It should stop when `signal` aborts; its answer is ignored after the time limit anyway.
 */
export type ReadinessCheck = (signal: AbortSignal) => Promise<string | void>;

/**
 * How one part answered. `error` is generic (`timed out` or `not answering`): the answer may reach
 * whoever can reach the probe, so host names, roles and driver messages go to the log only.
 */
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

/** Why a check failed, for the response: nothing of the error itself. */
export const TIMED_OUT = 'timed out';
export const NOT_ANSWERING = 'not answering';

class CheckTimeout extends Error {}

/**
 * Readiness over named checks (`postgres`, `redis`, `gpu`): all run in parallel, each gets
 * `timeoutMs` (default 2 s) before it counts as failed, so one hung dependency cannot hold the probe.
 * A failure's details (the error, with its host names and driver messages) go to `logger` only.
 */
export function createReadiness(checks: Record<string, ReadinessCheck>, options: { timeoutMs?: number; logger?: Logger } = {}): Readiness {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const logger = options.logger?.child({ component: 'readiness' });

  async function run(name: string, check: ReadinessCheck): Promise<PartStatus> {
    const started = performance.now();
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new CheckTimeout(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      const detail = await Promise.race([check(controller.signal), limit]);
      return { ok: true, ms: Math.round(performance.now() - started), ...(detail ? { detail } : {}) };
    } catch (error) {
      const ms = Math.round(performance.now() - started);
      logger?.warn({ part: name, ms, err: error }, 'readiness check failed');
      return { ok: false, ms, error: error instanceof CheckTimeout ? TIMED_OUT : NOT_ANSWERING };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async check() {
      const names = Object.keys(checks);
      const statuses = await Promise.all(names.map((name) => run(name, checks[name]!)));
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
