/**
 * Throwaway Redis and Postgres servers for the chaos and soak runs: their own processes, on spare
 * ports, in temporary folders, so a scenario can kill and restart them without touching the
 * machine's shared servers. Each server is a direct child process started through `setpriv
 * --pdeathsig`, so it dies with the runner even when the runner itself is killed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';

/** Where initdb and postgres live: CHAOS_PG_BIN, else the newest /usr/lib/postgresql/<version>/bin (Debian's layout). */
const PG_BIN = process.env.CHAOS_PG_BIN ?? newestPostgresBin();

function newestPostgresBin(): string {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`)) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  return newest ? `/usr/lib/postgresql/${newest}/bin` : '/usr/lib/postgresql/15/bin';
}

/** A free TCP port on loopback (free when asked; the server binds it a moment later). */
export async function sparePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;
const isRoot = process.getuid?.() === 0;

/** argv that runs `command` so it dies with this process (and, for Postgres under root, as the postgres user). */
export function guarded(command: string, args: string[], asPostgres = false): [string, string[]] {
  if (!hasSetpriv) {
    if (asPostgres && isRoot) return ['runuser', ['-u', 'postgres', '--', command, ...args]];
    return [command, args];
  }
  const user = asPostgres && isRoot ? ['--reuid=postgres', '--regid=postgres', '--init-groups'] : [];
  return ['setpriv', [...user, '--pdeathsig', 'SIGKILL', command, ...args]];
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return once(child, 'exit').then(() => undefined);
}

/** A Redis server with AOF on (by default fsync on every write, so "acknowledged" means on disk) and noeviction. */
export interface ChaosRedis {
  url: string;
  port: number;
  readonly running: boolean;
  start(): Promise<void>;
  /** SIGKILL: no goodbye, no final save; only the AOF survives. */
  kill(): Promise<void>;
  close(): Promise<void>;
}

export async function startRedis(root: string, options: { fsync?: 'always' | 'everysec' } = {}): Promise<ChaosRedis> {
  const dir = join(root, 'redis');
  await mkdir(dir, { recursive: true });
  const port = await sparePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', 'yes', '--appendfsync', options.fsync ?? 'always', '--maxmemory-policy', 'noeviction',
    '--logfile', join(dir, 'redis.log'), '--daemonize', 'no',
  ];
  const ping = async () => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    client.on('error', () => undefined);
    try {
      await client.connect();
      // A server still loading its AOF answers LOADING to PING.
      return (await client.ping()) === 'PONG';
    } finally {
      client.disconnect();
    }
  };
  const redis: ChaosRedis = {
    url,
    port,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      const [cmd, argv] = guarded('redis-server', args);
      child = spawn(cmd, argv, { stdio: 'ignore' });
      await waitUntil('redis', ping);
    },
    async kill() {
      if (!child) return;
      child.kill('SIGKILL');
      await exited(child);
    },
    async close() {
      await redis.kill();
    },
  };
  await redis.start();
  return redis;
}

/** A Postgres cluster of its own (trust auth, fsync off: a killed server loses nothing it acknowledged, an OS crash could). */
export interface ChaosPostgres {
  /** Server URL without a database: append `/name`. */
  serverUrl: string;
  port: number;
  readonly running: boolean;
  start(): Promise<void>;
  /** Fast shutdown (SIGINT): sessions are cut, the server stops cleanly. */
  stop(): Promise<void>;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(database: string, sql: string, params?: unknown[]): Promise<pg.QueryResult<T>>;
  close(): Promise<void>;
}

export async function startPostgres(root: string): Promise<ChaosPostgres> {
  const dir = join(root, 'pg');
  const data = join(dir, 'data');
  await mkdir(dir, { recursive: true });
  if (isRoot) spawnSync('chown', ['-R', 'postgres:postgres', dir]);
  const [initCmd, initArgs] = guarded(join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], true);
  const init = spawnSync(initCmd, initArgs, { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  const port = await sparePort();
  const serverUrl = `postgres://postgres@127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const settings = ['-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=400', '-c', 'shared_buffers=64MB'];

  const query = async <T extends pg.QueryResultRow>(database: string, sql: string, params: unknown[] = []) => {
    const client = new pg.Client({ connectionString: `${serverUrl}/${database}`, connectionTimeoutMillis: 3_000 });
    await client.connect();
    try {
      return await client.query<T>(sql, params);
    } finally {
      await client.end();
    }
  };
  const postgres: ChaosPostgres = {
    serverUrl,
    port,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      const [cmd, argv] = guarded(join(PG_BIN, 'postgres'), ['-D', data, ...settings], true);
      child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'ignore'] });
      await waitUntil('postgres', async () => (await query('postgres', 'select 1')).rowCount === 1);
    },
    async stop() {
      if (!child || !postgres.running) return;
      child.kill('SIGINT');
      await exited(child);
    },
    query,
    async close() {
      if (child && postgres.running) {
        child.kill('SIGQUIT');
        await exited(child);
      }
    },
  };
  await postgres.start();
  return postgres;
}

/** Both servers in one temporary folder; `close` stops them and removes it. */
export interface ChaosInfra {
  root: string;
  redis: ChaosRedis;
  postgres: ChaosPostgres;
  close(): Promise<void>;
}

export async function startInfra(label: string, options: { fsync?: 'always' | 'everysec' } = {}): Promise<ChaosInfra> {
  const root = await mkdtemp(join(tmpdir(), `likeness-${label}-`));
  await chmod(root, 0o755); // Postgres runs as its own user and must reach its folder inside
  const [redis, postgres] = await Promise.all([startRedis(root, options), startPostgres(root)]);
  return {
    root,
    redis,
    postgres,
    async close() {
      await Promise.allSettled([redis.close(), postgres.close()]);
      if (existsSync(root)) await rm(root, { recursive: true, force: true });
    },
  };
}
