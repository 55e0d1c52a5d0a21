import type { Config } from '../config.js';

/** A GPU backend's answer to "could a job run now?": resolves with a short detail, rejects with the reason it cannot. */
export type BackendHealthCheck = (signal: AbortSignal) => Promise<string>;

type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** Cog's `GET /health-check` states in which an endpoint takes (or will soon take) predictions. */
const COG_SERVING = new Set(['READY', 'BUSY']);

/**
 * The readiness check of the configured backend, cheap enough for a probe every few seconds:
 * - `local` and `instant` run inside the GPU workers on the CPU: always ready.
 * - `replicate`: `GET <REPLICATE_BASE_URL>/account` with the token (an authenticated call that
 *   starts nothing and costs nothing); a refused token or an unreachable API is not ready.
 * - `cog`: `GET /health-check` of every endpoint at once; ready while at least one is READY or BUSY.
 *   Endpoint URLs are internal, so the detail gives counts, not addresses.
 */
export function createBackendHealthCheck(config: Config['gpu'], deps: { fetch?: FetchLike } = {}): BackendHealthCheck {
  const fetchFn: FetchLike = deps.fetch ?? ((input, init) => fetch(input, init));
  switch (config.backend) {
    case 'local':
    case 'instant':
      return async () => `${config.backend} (runs in the GPU workers)`;
    case 'replicate':
      return async (signal) => {
        if (!config.replicateToken) throw new Error('REPLICATE_API_TOKEN is not set');
        const response = await fetchFn(`${config.replicateBaseUrl.replace(/\/+$/, '')}/account`, {
          headers: { authorization: `Bearer ${config.replicateToken}`, accept: 'application/json' },
          signal,
        }).catch((error: unknown) => {
          throw new Error(`Replicate API unreachable (${error instanceof Error ? error.name : 'error'})`);
        });
        await response.body?.cancel().catch(() => undefined);
        if (response.status === 401 || response.status === 403) throw new Error(`Replicate refused the API token (HTTP ${response.status})`);
        if (!response.ok) throw new Error(`Replicate API answered HTTP ${response.status}`);
        return 'replicate';
      };
    case 'cog':
      return async (signal) => {
        const states = await Promise.all(
          config.cogEndpoints.map(async (endpoint) => {
            try {
              const response = await fetchFn(`${endpoint.url}/health-check`, { headers: { accept: 'application/json' }, signal });
              const body = (await response.json().catch(() => undefined)) as { status?: unknown } | undefined;
              return typeof body?.status === 'string' ? body.status : `HTTP ${response.status}`;
            } catch {
              return 'UNREACHABLE';
            }
          }),
        );
        const serving = states.filter((s) => COG_SERVING.has(s)).length;
        const summary = `${serving} of ${states.length} Cog endpoints ready`;
        if (serving === 0) throw new Error(`${summary} (${[...new Set(states)].join(', ')})`);
        return summary;
      };
  }
}
