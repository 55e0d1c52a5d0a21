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
});
