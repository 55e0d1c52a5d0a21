import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('runs on the embedded defaults with an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/likeness',
      redisUrl: 'redis://127.0.0.1:6379',
      dataDir: './data',
      gpu: { backend: 'local' },
      credits: { freeDaily: 8, prices: { portrait: 4, upscale: 2, restore: 1 }, maxActiveJobsPerUser: 2 },
    });
    expect(config.telegram).toBeUndefined();
    expect(config.discord).toBeUndefined();
  });

  it('names every bad variable at once', () => {
    const error = (() => {
      try {
        loadConfig({ DATABASE_URL: 'not a url', FREE_DAILY_CREDITS: 'lots', GPU_BACKEND: 'quantum', ADMIN_IDS: 'telegram:1,bob', HTTP_PORT: '99999' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['DATABASE_URL', 'FREE_DAILY_CREDITS', 'GPU_BACKEND', 'ADMIN_IDS', 'HTTP_PORT']) expect(problems).toContain(name);
    expect((error as ConfigError).problems).toHaveLength(5);
  });

  it('checks variables that depend on each other', () => {
    expect(() => loadConfig({ GPU_BACKEND: 'replicate', STORAGE: 's3' })).toThrow(/REPLICATE_API_TOKEN[\s\S]*|S3_BUCKET/);
    try {
      loadConfig({ GPU_BACKEND: 'replicate', STORAGE: 's3' });
    } catch (e) {
      expect((e as ConfigError).problems.map((p) => p.split(':')[0]).sort()).toEqual(['REPLICATE_API_TOKEN', 'S3_BUCKET']);
    }
  });

  it('treats empty strings as unset and parses lists', () => {
    const config = loadConfig({ TELEGRAM_BOT_TOKEN: '', ADMIN_IDS: 'telegram:123, discord:456', COG_ENDPOINTS: '' });
    expect(config.telegram).toBeUndefined();
    expect(config.adminIds).toEqual(['telegram:123', 'discord:456']);
    expect(config.gpu.cogEndpoints).toEqual([]);
  });

  const problemsOf = (env: Record<string, string>, options?: Parameters<typeof loadConfig>[1]): string[] => {
    try {
      loadConfig(env, options);
      return [];
    } catch (e) {
      return (e as ConfigError).problems;
    }
  };

  it('refuses an ADMIN_PASSWORD shorter than 16 characters, saying how long it must be', () => {
    const problems = problemsOf({ ADMIN_PASSWORD: 'fifteen-chars15' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^ADMIN_PASSWORD: use at least 16 characters/);
    expect(loadConfig({ ADMIN_PASSWORD: 'sixteen-chars-16' }).http.adminPassword).toBe('sixteen-chars-16');
  });

  it('requires LINK_SECRET in production for the processes that serve downloads, and only for them', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems).toEqual([expect.stringMatching(/^LINK_SECRET: required in production \(NODE_ENV=production\)/)]);
    expect(problemsOf({ NODE_ENV: 'production' }, { servesDownloads: false })).toEqual([]);
    expect(problemsOf({ NODE_ENV: 'production', LINK_SECRET: 'x'.repeat(32) })).toEqual([]);
    expect(problemsOf({ NODE_ENV: 'development' })).toEqual([]);
  });

  it('caps FILE_LINK_TTL_HOURS at 7 days, and puts the operations listener on loopback, read-only, by default', () => {
    expect(problemsOf({ FILE_LINK_TTL_HOURS: '169' })).toEqual([expect.stringMatching(/^FILE_LINK_TTL_HOURS: at most 168 hours/)]);
    const config = loadConfig({});
    expect(config.ops).toEqual({ port: 8081, host: '127.0.0.1' });
    expect(config.http).toMatchObject({ port: 8080, adminQueuesWrite: false, maxConnections: 1024, downloadsPerAddress: 8, fileLinkTtlHours: 72 });
    expect(loadConfig({ OPS_HOST: '0.0.0.0', OPS_PORT: '9464', ADMIN_QUEUES_WRITE: 'true' })).toMatchObject({ ops: { port: 9464, host: '0.0.0.0' }, http: { adminQueuesWrite: true } });
  });
});
