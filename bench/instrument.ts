/**
 * Process-wide probes for the benchmarks: how many Postgres queries and Redis commands a phase sends
 * (and how long they wait on the wire), and how much CPU this process, Postgres and Redis spend.
 * The probes patch the client prototypes of pg and ioredis once; counting is cheap when off.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Pipeline, Redis } from 'ioredis';
import pg from 'pg';

export interface Tally {
  count: number;
  /** Sum of wall time from send to reply, ms (overlapping calls add up). */
  ms: number;
}

export interface ProbeSnapshot {
  pg: Map<string, Tally>;
  redis: Map<string, Tally>;
  /** Redis round trips: commands sent alone plus pipelines/transactions (one trip each). */
  redisTrips: number;
  /** Blocking waits (BZPOPMIN, XREAD BLOCK, ...): wire time but no work. */
  redisBlocking: number;
}

const BLOCKING = new Set(['bzpopmin', 'bzpopmax', 'brpoplpush', 'blmove', 'brpop', 'blpop', 'xread', 'xreadgroup']);

let installed = false;
let counting = false;
let pgTally = new Map<string, Tally>();
let redisTally = new Map<string, Tally>();
let redisTrips = 0;
let redisBlocking = 0;
const scriptNames = new Map<string, string>();

function add(map: Map<string, Tally>, key: string, ms: number): void {
  const t = map.get(key);
  if (t) {
    t.count += 1;
    t.ms += ms;
  } else map.set(key, { count: 1, ms });
}

/**
 * A short, stable name for a statement, specific enough to tell the repository functions apart:
 * "select jobs by idempotency_key", "select count jobs by account_id,status", "update results set
 * platform_message_id by id", "begin", ...
 */
export function sqlLabel(text: string): string {
  const t = text.trim().replace(/\s+/g, ' ');
  const verb = (t.split(' ')[0] ?? '?').toLowerCase();
  const table =
    verb === 'insert' ? /into "?(\w+)"?/i.exec(t)?.[1] : verb === 'update' ? /^update "?(\w+)"?/i.exec(t)?.[1] : /\bfrom "?(\w+)"?/i.exec(t)?.[1];
  if (!table) return verb;
  const columns = (part: string | undefined) => [...new Set([...(part ?? '').matchAll(/"(\w+)"\s*(?:=|in\b)/gi)].map((m) => m[1]!))].join(',');
  const lastWhere = t.toLowerCase().lastIndexOf(' where ');
  const whereText = lastWhere < 0 ? '' : t.slice(lastWhere);
  const where = columns(/\bwhere\b(.*?)(?:\border by\b|\blimit\b|\breturning\b|\bon conflict\b|\bfor update\b|$)/i.exec(whereText)?.[1]);
  const set = verb === 'update' ? columns(/\bset\b(.*?)\bwhere\b/i.exec(t)?.[1]) : '';
  const aggregate = verb === 'select' ? (/^select count\(/i.test(t) ? ' count' : /^select coalesce\(sum\(/i.test(t) ? ' sum' : '') : '';
  const fromSelect = verb === 'insert' && /\)\s*select\b/i.test(t) ? ' ... select' : '';
  return [
    `${verb}${aggregate} ${table}${fromSelect}`,
    set && `set ${set}`,
    where && `by ${where}`,
    /\bon conflict\b/i.test(t) && 'on conflict',
    /\bfor update\b/i.test(t) && 'for update',
  ]
    .filter(Boolean)
    .join(' ');
}

function scriptName(sha: unknown): string {
  return typeof sha === 'string' ? (scriptNames.get(sha) ?? `script ${sha.slice(0, 8)}`) : 'script ?';
}

/** Patches pg.Client and ioredis once; idempotent. */
export function installProbes(): void {
  if (installed) return;
  installed = true;

  const clientProto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const originalQuery = clientProto.query;
  clientProto.query = function patchedQuery(this: unknown, ...args: unknown[]) {
    if (!counting) return originalQuery.apply(this, args);
    const config = args[0] as string | { text?: string } | undefined;
    const text = typeof config === 'string' ? config : (config?.text ?? '?');
    const label = sqlLabel(text);
    const started = performance.now();
    const done = () => add(pgTally, label, performance.now() - started);
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last] as (...a: unknown[]) => unknown;
      args[last] = (...a: unknown[]) => {
        done();
        return callback(...a);
      };
      return originalQuery.apply(this, args);
    }
    const result = originalQuery.apply(this, args) as Promise<unknown> | undefined;
    if (result && typeof result.then === 'function') result.then(done, done);
    return result;
  };

  const redisProto = Redis.prototype as unknown as {
    sendCommand: (command: { name: string; args: unknown[]; promise: Promise<unknown> }, stream?: unknown) => unknown;
  };
  const originalSend = redisProto.sendCommand;
  redisProto.sendCommand = function patchedSend(this: { scriptsSet?: Record<string, { sha: string }> }, command, stream) {
    if (!counting) return originalSend.call(this, command, stream);
    let name = command.name.toLowerCase();
    if (name === 'evalsha' || name === 'eval') {
      if (name === 'evalsha' && !scriptNames.has(String(command.args[0]))) {
        for (const [scriptKey, script] of Object.entries(this.scriptsSet ?? {})) scriptNames.set(script.sha, scriptKey);
      }
      name = name === 'evalsha' ? scriptName(command.args[0]) : 'eval (script load)';
    }
    if (BLOCKING.has(name)) redisBlocking += 1;
    else if (!stream) redisTrips += 1; // pipelined commands are counted once per pipeline, below
    const started = performance.now();
    const result = originalSend.call(this, command, stream);
    const done = () => add(redisTally, name, performance.now() - started);
    command.promise?.then(done, done);
    return result;
  };

  const pipelineProto = Pipeline.prototype as unknown as { exec: (...args: unknown[]) => unknown };
  const originalExec = pipelineProto.exec;
  pipelineProto.exec = function patchedExec(this: unknown, ...args: unknown[]) {
    if (counting) redisTrips += 1;
    return originalExec.apply(this, args);
  };
}

/** Starts counting from zero. */
export function startCounting(): void {
  pgTally = new Map();
  redisTally = new Map();
  redisTrips = 0;
  redisBlocking = 0;
  counting = true;
}

/** Stops counting and returns what was seen since {@link startCounting}. */
export function stopCounting(): ProbeSnapshot {
  counting = false;
  return { pg: pgTally, redis: redisTally, redisTrips, redisBlocking };
}

export const totalCount = (map: Map<string, Tally>): number => [...map.values()].reduce((s, t) => s + t.count, 0);
export const totalMs = (map: Map<string, Tally>): number => [...map.values()].reduce((s, t) => s + t.ms, 0);

// ---------------------------------------------------------------------------------------------
// CPU: this process (process.cpuUsage, all its threads) and the local Postgres and Redis servers
// (/proc, Linux only). The Postgres server is shared with whoever else uses it, so its backends
// serving the bench database are also counted on their own (`ownPids`).

export interface CpuSample {
  at: number;
  nodeMs: number;
  /** Every postgres process of the server. */
  postgresMs?: number;
  /** Only the backends in `ownPids` (those serving the bench database). */
  postgresOwnMs?: number;
  redisMs?: number;
}

/** USER_HZ: 100 on every mainstream Linux. */
const clockTicks = 100;

function procCpuMs(ownPids: ReadonlySet<number>): Omit<CpuSample, 'at' | 'nodeMs'> {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return {};
  }
  let postgres = 0;
  let own = 0;
  let redis = 0;
  let seen = false;
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const isPg = comm === 'postgres' || comm.startsWith('postgres:');
    const isRedis = comm.startsWith('redis-server');
    if (!isPg && !isRedis) continue;
    const fields = stat.slice(close + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
    if (isPg) {
      postgres += ticks;
      if (ownPids.has(Number(pid))) own += ticks;
    } else redis += ticks;
    seen = true;
  }
  if (!seen) return {};
  const ms = (ticks: number) => (ticks * 1000) / clockTicks;
  return { postgresMs: ms(postgres), postgresOwnMs: ms(own), redisMs: ms(redis) };
}

export function cpuSample(ownPids: ReadonlySet<number> = new Set()): CpuSample {
  const usage = process.cpuUsage();
  return { at: performance.now(), nodeMs: (usage.user + usage.system) / 1000, ...procCpuMs(ownPids) };
}

export interface CpuSpent {
  wallMs: number;
  nodeMs: number;
  postgresMs?: number;
  postgresOwnMs?: number;
  redisMs?: number;
}

export function cpuBetween(a: CpuSample, b: CpuSample): CpuSpent {
  const diff = (x?: number, y?: number) => (x !== undefined && y !== undefined ? y - x : undefined);
  return {
    wallMs: b.at - a.at,
    nodeMs: b.nodeMs - a.nodeMs,
    postgresMs: diff(a.postgresMs, b.postgresMs),
    postgresOwnMs: diff(a.postgresOwnMs, b.postgresOwnMs),
    redisMs: diff(a.redisMs, b.redisMs),
  };
}
