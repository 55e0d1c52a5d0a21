import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { GpuBackend } from './backend.js';
import { createCogBackend } from './cog.backend.js';
import type { RetryPolicy } from './http-retry.js';
import { createInstantBackend } from './instant.backend.js';
import { createLocalBackend } from './local.backend.js';
import { createModelCatalog } from './models.js';
import { createReplicateBackend } from './replicate.backend.js';
import { createStyleCatalog } from './styles.js';
import { withTimeLimit } from './time-limit.js';

/** A Retry-After longer than this is not waited out in the worker: the job-level retry (with its back-off) takes over. */
const MAX_RETRY_AFTER_MS = 60_000;

const LOCAL_SR_BUDGET_MS = 60_000;

/** The HTTP retry policy of the remote backends, from config. */
export const retryPolicyOf = (config: Config['gpu']): RetryPolicy => ({
  retries: config.httpRetries,
  baseDelayMs: config.httpRetryBaseMs,
  maxDelayMs: Math.min(MAX_RETRY_AFTER_MS, config.timeoutMs),
  timeoutMs: config.httpTimeoutMs,
});

/**
 * The backend named by `GPU_BACKEND`. The remote ones load the model catalog (`MODELS_FILE`) and
 * check the style catalog's model overrides against it, so a bad catalog stops the worker at start
 * (ConfigError) rather than failing every job later; each call is limited to `GPU_TIMEOUT_MS`.
 */
export function createGpuBackend(config: Config['gpu'], options: { logger?: Logger } = {}): GpuBackend {
  switch (config.backend) {
    case 'local':
      // ESRGAN takes ~35 s for a 1024x1280 portrait on one core: used when it fits the minute.
      return createLocalBackend({ superResolution: config.localSuperResolution === 'esrgan' ? { budgetMs: LOCAL_SR_BUDGET_MS } : false });
    case 'instant':
      return createInstantBackend({ delayMs: config.instantDelayMs });
    case 'replicate': {
      if (!config.replicateToken) throw new Error('GPU_BACKEND=replicate needs REPLICATE_API_TOKEN');
      const catalog = createModelCatalog(config.modelsFile, createStyleCatalog(config.stylesFile));
      const backend = createReplicateBackend({
        token: config.replicateToken,
        baseUrl: config.replicateBaseUrl,
        catalog,
        pollIntervalMs: config.pollIntervalMs,
        retry: retryPolicyOf(config),
        logger: options.logger,
      });
      return withTimeLimit(backend, config.timeoutMs);
    }
    case 'cog': {
      const catalog = createModelCatalog(config.modelsFile, createStyleCatalog(config.stylesFile));
      const backend = createCogBackend({
        endpoints: config.cogEndpoints,
        catalog,
        pricePerGpuHour: config.cogPricePerGpuHour,
        retryDeadMs: config.cogRetryDeadMs,
        retry: retryPolicyOf(config),
        logger: options.logger,
      });
      return withTimeLimit(backend, config.timeoutMs);
    }
  }
}
