import { randomBytes } from 'node:crypto';

/** The Redis commands the shared secret needs (an ioredis connection has them). */
export interface SecretStore {
  set(key: string, value: string, mode: 'NX'): Promise<unknown>;
  get(key: string): Promise<string | null>;
}

/**
 * The key of signed download links. `LINK_SECRET` when set; otherwise one generated once and
 * shared by every process through Redis (`SET key value NX`: the first process's secret wins and
 * all read that one). It is read once per process and kept in memory; a failed read is tried
 * again next time. The secret is never logged. Links made with a generated secret die with the
 * Redis key (a flushed Redis), and anyone who can read Redis can sign links: production must
 * set LINK_SECRET (config refuses to start `serve` or `all` without it).
 */
export function createLinkSecret(options: {
  configured?: string;
  redis: SecretStore;
  key: string;
  /** Told the generated secret once it is read, so the logs can redact it (see addLogSecret). */
  onGenerated?: (secret: string) => void;
}): () => Promise<Buffer> {
  if (options.configured) {
    const fixed = Buffer.from(options.configured, 'utf8');
    return async () => fixed;
  }
  let loading: Promise<Buffer> | undefined;
  return () => {
    loading ??= (async () => {
      await options.redis.set(options.key, randomBytes(32).toString('base64url'), 'NX');
      const value = await options.redis.get(options.key);
      if (!value) throw new Error('the shared link secret vanished from Redis');
      options.onGenerated?.(value);
      return Buffer.from(value, 'utf8');
    })().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
}
