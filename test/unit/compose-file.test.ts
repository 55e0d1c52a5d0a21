/**
 * docker-compose.yml keeps what the README promises: the four services, their health checks, the
 * pinned variables, Redis's durability settings, loopback-only ports, and workers without chat
 * tokens. Compose v2 is not installed everywhere this runs (nor in Debian's packages), so the file
 * is read as YAML with its anchors and merge keys resolved, as Compose reads it. Where `docker
 * compose` exists, test:container also runs `docker compose config`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Service {
  image?: string;
  command?: string | string[];
  environment?: Record<string, string | null>;
  env_file?: unknown;
  ports?: string[];
  healthcheck?: { test: string | string[] };
  deploy?: { replicas?: string | number };
  init?: boolean;
  stop_grace_period?: string;
}

const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const envExample = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
const { services } = compose;
const healthTest = (service: Service) => [service.healthcheck?.test ?? []].flat().join(' ');
/** A value as compose would fill it in: `${VAR:-default}` gives the default, `${VAR:?message}` (required) a stand-in. */
const interpolated = (value: string) => value.replace(/\$\{(\w+)(?::-([^}]*)|:\?[^}]*)?\}/g, (_all, _name: string, fallback?: string) => fallback ?? 'set-in-env');

describe('docker-compose.yml', () => {
  it('runs Postgres, Redis, the all-in-one service and scalable workers (none by default), each with a health check', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['postgres', 'redis', 'likeness', 'worker']));
    for (const name of ['postgres', 'redis', 'likeness', 'worker']) expect(healthTest(services[name]!), name).not.toBe('');
    expect(healthTest(services.postgres!)).toContain('pg_isready');
    expect(services.likeness!.command).toEqual(['${LIKENESS_ROLE:-all}']);
    expect(services.worker!.command).toEqual(['worker']);
    expect(String(services.worker!.deploy?.replicas)).toBe('${WORKER_REPLICAS:-0}');
  });

  it('checks readiness (/readyz) on the operations port each Likeness container pins, and stops it gracefully', () => {
    for (const name of ['likeness', 'worker']) {
      const service = services[name]!;
      const port = service.environment?.OPS_PORT;
      expect(port, name).toMatch(/^\d+$/);
      expect(healthTest(service), name).toContain(`http://127.0.0.1:${port}/readyz`);
      expect(service.image, name).toBe('likeness:local');
      expect(service.init, name).toBe(true);
      expect(service.stop_grace_period, name).toBeDefined();
    }
  });

  it('pins the database, Redis and data directory to the compose services, and documents every passed variable in .env.example', () => {
    for (const name of ['likeness', 'worker']) {
      const env = services[name]!.environment!;
      expect(new URL(interpolated(env.DATABASE_URL!)).hostname, name).toBe('postgres');
      const redis = new URL(interpolated(env.REDIS_URL!));
      expect(redis.hostname, name).toBe('redis');
      expect(env.REDIS_URL, name).toMatch(/^redis:\/\/:\$\{REDIS_PASSWORD:\?/); // compose refuses to start without a password
      expect(env.DATA_DIR, name).toBe('/data');
      for (const key of Object.keys(env)) expect(envExample, `${key} (${name})`).toMatch(new RegExp(`^#?\\s*${key}=`, 'm'));
    }
  });

  it('keeps Redis on AOF with noeviction and a password, publishes Postgres, Redis and the operations port on 127.0.0.1 only, HTTP there by default', () => {
    const redis = [services.redis!.command ?? []].flat().join(' ');
    expect(redis).toContain('--appendonly yes');
    expect(redis).toContain('--maxmemory-policy noeviction');
    expect(redis).toMatch(/--requirepass/);
    for (const name of ['postgres', 'redis']) for (const port of services[name]!.ports ?? []) expect(port, name).toMatch(/^127\.0\.0\.1:/);
    const published = services.likeness!.ports ?? [];
    expect(published.filter((p) => p.endsWith(':8080'))).toEqual(['${HTTP_BIND_ADDRESS:-127.0.0.1}:8080:8080']);
    expect(published.filter((p) => p.endsWith(':8081'))).toEqual(['127.0.0.1:8081:8081']);
  });

  it('gives workers no chat-platform token: no .env file, no token variable', () => {
    const worker = services.worker!;
    expect(worker.env_file).toBeUndefined();
    expect(Object.keys(worker.environment ?? {}).filter((key) => /TELEGRAM|DISCORD/.test(key))).toEqual([]);
  });
});
