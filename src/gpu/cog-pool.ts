import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ModelUnavailableError } from './prediction-runner.js';

/** What a Cog container says at `GET /health-check`. */
export type CogHealth = 'STARTING' | 'READY' | 'BUSY' | 'SETUP_FAILED' | 'DEFUNCT' | 'UNHEALTHY' | string;

/** How a lease ended, which decides when the endpoint is used again. */
export type LeaseVerdict =
  /** It answered: ready for the next prediction at once. */
  | 'ok'
  /** It is busy with someone else's prediction (409, or BUSY): try again shortly, after a health check. */
  | 'busy'
  /** Unreachable or broken: skipped until `retryDeadMs` has passed, then health-checked. */
  | 'dead'
  /** Unknown state (an aborted prediction may still be running there): health-check before the next use. */
  | 'unsure';

export interface CogPoolOptions {
  /** How long a dead endpoint is skipped. */
  retryDeadMs: number;
  /** How long an endpoint busy with someone else's work is skipped. */
  busyRetryMs?: number;
  /** Asks an endpoint for its health; rejects when it cannot be reached. */
  healthCheck(url: string, signal: AbortSignal): Promise<CogHealth>;
  logger?: Logger;
  now?: () => number;
}

interface EndpointState {
  url: string;
  model?: string;
  busy: boolean;
  dead: boolean;
  /** Not used before this time (dead, or busy elsewhere). */
  until: number;
  /** Checked since its last trouble: no health check needed before the next prediction. */
  trusted: boolean;
}

/** One endpoint, held for one prediction; give it back with {@link CogPool.release}. */
export interface CogLease {
  readonly url: string;
}

/**
 * The self-hosted Cog containers of one process. Each runs one prediction at a time, so a
 * prediction leases an idle endpoint serving its model, waiting (first come, first served) while
 * all are busy. An endpoint is health-checked before its first use and after any trouble; a dead
 * one is skipped for `retryDeadMs` and then checked again. When every endpoint for a model is dead,
 * `acquire` rejects at once with a retryable GPU_UNAVAILABLE instead of holding the job.
 */
export class CogPool {
  private readonly endpoints: EndpointState[];
  private readonly waiters = new Set<() => void>();
  private readonly now: () => number;

  constructor(
    endpoints: ReadonlyArray<{ url: string; model?: string }>,
    private readonly options: CogPoolOptions,
  ) {
    this.endpoints = endpoints.map((e) => ({ url: e.url, model: e.model, busy: false, dead: false, until: 0, trusted: false }));
    this.now = options.now ?? (() => performance.now());
  }

  /** Whether some endpoint runs `modelId` (tagged with it, or untagged: serving whatever it is sent). */
  serves(modelId: string): boolean {
    return this.endpoints.some((e) => !e.model || e.model === modelId);
  }

  /** Endpoint states, for logs and tests. */
  snapshot(): Array<{ url: string; busy: boolean; dead: boolean }> {
    return this.endpoints.map(({ url, busy, dead }) => ({ url, busy, dead }));
  }

  /** Leases an idle, healthy endpoint for `modelId`; rejects with the signal's reason when it aborts while waiting. */
  async acquire(modelId: string, signal: AbortSignal): Promise<CogLease> {
    const serving = this.endpoints.filter((e) => !e.model || e.model === modelId);
    if (serving.length === 0) throw new ModelUnavailableError(modelId, `no Cog endpoint runs ${modelId}`);
    for (;;) {
      signal.throwIfAborted();
      const now = this.now();
      const ready = serving.filter((e) => !e.busy && e.until <= now);
      // Trusted endpoints first: they need no health check.
      const pick = ready.find((e) => e.trusted) ?? ready[0];
      if (pick) {
        pick.busy = true;
        if (pick.trusted || (await this.check(pick, signal))) return { url: pick.url };
        continue;
      }
      if (serving.every((e) => e.dead && !e.busy && e.until > now)) {
        throw new AppError('GPU_UNAVAILABLE', `every Cog endpoint for ${modelId} is unreachable`, { retryable: true });
      }
      const next = serving.filter((e) => !e.busy).map((e) => e.until - now);
      await this.waitForChange(signal, next.length > 0 ? Math.max(1, Math.min(...next)) : undefined);
    }
  }

  /** Gives an endpoint back; the verdict says when it may be used again. */
  release(lease: CogLease, verdict: LeaseVerdict): void {
    const e = this.endpoints.find((x) => x.url === lease.url && x.busy);
    if (!e) return;
    e.busy = false;
    if (verdict === 'ok') {
      Object.assign(e, { dead: false, until: 0, trusted: true });
    } else if (verdict === 'busy') {
      Object.assign(e, { dead: false, until: this.now() + (this.options.busyRetryMs ?? 250), trusted: false });
    } else if (verdict === 'dead') {
      if (!e.dead) this.options.logger?.warn({ endpoint: e.url, retryInMs: this.options.retryDeadMs }, 'Cog endpoint is down; skipping it for now');
      Object.assign(e, { dead: true, until: this.now() + this.options.retryDeadMs, trusted: false });
    } else {
      e.trusted = false;
    }
    for (const wake of [...this.waiters]) wake();
  }

  /** Health-checks a leased endpoint; on anything but READY it is given back with the matching verdict. */
  private async check(e: EndpointState, signal: AbortSignal): Promise<boolean> {
    let health: CogHealth;
    try {
      health = await this.options.healthCheck(e.url, signal);
    } catch (error) {
      this.release(e, signal.aborted ? 'unsure' : 'dead');
      if (signal.aborted) throw signal.reason;
      this.options.logger?.debug({ err: error, endpoint: e.url }, 'Cog health check failed');
      return false;
    }
    if (health === 'READY') {
      if (e.dead) this.options.logger?.info({ endpoint: e.url }, 'Cog endpoint is back');
      Object.assign(e, { dead: false, trusted: true });
      return true;
    }
    // STARTING and BUSY pass; anything else (SETUP_FAILED, DEFUNCT, UNHEALTHY) is down until checked again.
    this.release(e, health === 'BUSY' || health === 'STARTING' ? 'busy' : 'dead');
    return false;
  }

  /** Resolves when an endpoint is given back, or after `maxMs` (when a skipped endpoint may be tried again). */
  private waitForChange(signal: AbortSignal, maxMs?: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        cleanup();
        resolve();
      };
      const onAbort = () => {
        cleanup();
        reject(signal.reason);
      };
      const timer = maxMs !== undefined ? setTimeout(done, maxMs) : undefined;
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal.removeEventListener('abort', onAbort);
      };
      this.waiters.add(done);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
