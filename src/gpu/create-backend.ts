import type { Config } from '../config.js';
import type { GpuBackend } from './backend.js';
import { createInstantBackend } from './instant.backend.js';
import { createLocalBackend } from './local.backend.js';

/** The backend named by `GPU_BACKEND`. */
export function createGpuBackend(config: Config['gpu']): GpuBackend {
  switch (config.backend) {
    case 'local':
      return createLocalBackend();
    case 'instant':
      return createInstantBackend({ delayMs: config.instantDelayMs });
    case 'replicate':
    case 'cog':
      // Tracked by the GPU backends issue; refusing at start beats failing every job later.
      throw new Error(`GPU_BACKEND=${config.backend} is not available yet; use local`);
  }
}
