import { isAbsolute } from 'node:path';
import { z } from 'zod';

/** Thrown by {@link loadConfig}; `problems` names every bad variable, not just the first. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const int = (min: number, fallback: number) => z.coerce.number().int().min(min).default(fallback);
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const flag = z.enum(['0', '1', 'true', 'false']).default('0').transform((v) => v === '1' || v === 'true');

/** Shortest ADMIN_PASSWORD accepted: the dashboard is guessable at thousands of tries a second otherwise. */
export const MIN_ADMIN_PASSWORD = 16;
/** Longest a download link may live; a token claiming a later expiry is refused. */
export const MAX_FILE_LINK_TTL_HOURS = 168;
const optionalString = z.string().trim().min(1).optional();
const optionalUrl = z.url().optional();
const commaList = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean),
  );

/** One self-hosted Cog container, optionally tagged with the catalog model it serves. */
export interface CogEndpointConfig {
  url: string;
  /** A model id of the model catalog, e.g. `sczhou/codeformer`; untagged endpoints serve every task's first model. */
  model?: string;
}

/** `http://gpu-1:5000` or `sczhou/codeformer=http://gpu-2:5000`. */
const cogEndpoint = z.string().transform((entry, ctx): CogEndpointConfig => {
  const tagged = /^([\w.-]+\/[\w.-]+)=(.+)$/.exec(entry);
  const url = tagged ? tagged[2]! : entry;
  if (!z.url({ protocol: /^https?$/ }).safeParse(url).success) {
    ctx.addIssue({ code: 'custom', message: `expected an http(s) URL, optionally as owner/model=URL, not "${entry}"` });
    return z.NEVER;
  }
  return tagged ? { url: url.replace(/\/+$/, ''), model: tagged[1]! } : { url: url.replace(/\/+$/, '') };
});

/** `telegram:123,discord:456` → platform-qualified ids. */
const adminIds = commaList.pipe(
  z.array(z.string().regex(/^(telegram|discord|cli):[\w.-]+$/, 'expected platform:id, e.g. telegram:123')),
);

const schema = z.object({
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.url().default('postgres://postgres@127.0.0.1:5432/likeness'),
  REDIS_URL: z.url().default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z.string().regex(/^[\w-]+$/).default('likeness'),
  DATA_DIR: z.string().default('./data'),
  STORAGE: z.enum(['fs', 's3']).default('fs'),
  S3_ENDPOINT: optionalUrl,
  S3_BUCKET: optionalString,
  S3_REGION: optionalString,
  S3_ACCESS_KEY_ID: optionalString,
  S3_SECRET_ACCESS_KEY: optionalString,
  S3_FORCE_PATH_STYLE: flag,
  INPUT_RETENTION_DAYS: int(0, 7),
  OUTPUT_RETENTION_DAYS: int(0, 30),
  GPU_BACKEND: z.enum(['local', 'replicate', 'cog', 'instant']).default('local'),
  GPU_CONCURRENCY: int(1, 2),
  GPU_ATTEMPTS: int(1, 3),
  GPU_JOB_LOCK_MS: int(1000, 30_000),
  GPU_RETRY_BACKOFF_MS: int(0, 2_000),
  INSTANT_BACKEND_DELAY_MS: int(0, 0),
  LOCAL_SUPER_RESOLUTION: z.enum(['esrgan', 'lanczos']).default('esrgan'),
  REPLICATE_API_TOKEN: optionalString,
  REPLICATE_BASE_URL: z.url().default('https://api.replicate.com/v1'),
  GPU_TIMEOUT_MS: int(1000, 600_000),
  GPU_POLL_INTERVAL_MS: int(10, 1_000),
  GPU_HTTP_TIMEOUT_MS: int(100, 30_000),
  GPU_HTTP_RETRIES: int(0, 4),
  GPU_HTTP_RETRY_BASE_MS: int(0, 500),
  COG_ENDPOINTS: commaList.pipe(z.array(cogEndpoint)),
  COG_PRICE_PER_GPU_HOUR: z.coerce.number().min(0).default(0),
  COG_RETRY_DEAD_MS: int(100, 30_000),
  MODELS_FILE: optionalString,
  STYLES_FILE: optionalString,
  TELEGRAM_BOT_TOKEN: optionalString,
  TELEGRAM_API_ROOT: z.url().default('https://api.telegram.org'),
  TELEGRAM_WEBHOOK_URL: optionalUrl,
  TELEGRAM_WEBHOOK_SECRET: optionalString,
  TELEGRAM_LOCAL_FILES_DIR: optionalString.refine((dir) => dir === undefined || isAbsolute(dir), 'expected an absolute path'),
  DISCORD_TOKEN: optionalString,
  DISCORD_APPLICATION_ID: optionalString,
  DISCORD_GUILD_ID: optionalString,
  DISCORD_API_BASE: z.url().default('https://discord.com/api'),
  ATTACHMENT_HOSTS: commaList,
  HTTP_PORT: port(8080),
  HTTP_MAX_CONNECTIONS: int(1, 1024),
  DOWNLOADS_PER_ADDRESS: int(0, 8),
  OPS_PORT: port(8081),
  OPS_HOST: z.string().trim().min(1).default('127.0.0.1'),
  PUBLIC_URL: optionalUrl,
  ADMIN_IDS: adminIds,
  ADMIN_PASSWORD: z.string().min(MIN_ADMIN_PASSWORD, `use at least ${MIN_ADMIN_PASSWORD} characters (a long random one: \`openssl rand -base64 24\`)`).optional(),
  ADMIN_QUEUES_WRITE: flag,
  LINK_SECRET: z.string().min(32, 'use at least 32 characters').optional(),
  TOMBSTONE_SECRET: z.string().min(32, 'use at least 32 characters').optional(),
  FILE_LINK_TTL_HOURS: z.coerce.number().int().min(1).max(MAX_FILE_LINK_TTL_HOURS, `at most ${MAX_FILE_LINK_TTL_HOURS} hours (7 days)`).default(72),
  LIKENESS_MIN: z.coerce.number().min(0).max(100).default(50),
  LIKENESS_RETRIES: int(0, 2),
  FREE_DAILY_CREDITS: int(0, 8),
  PRICE_PORTRAIT: int(0, 4),
  PRICE_RESTORE: int(0, 1),
  PRICE_UPSCALE: int(0, 2),
  MAX_ACTIVE_JOBS_PER_USER: int(1, 2),
  MAX_PHOTO_BYTES: int(1, 20 * 1024 * 1024),
  MAX_PHOTO_PIXELS: int(1, 50_000_000),
  PHOTO_REQUESTS_PER_10_MIN: int(1, 10),
  INTAKE_MAX_WAITING: int(1, 64),
  MARK_OUTPUTS: flag,
});

type Env = z.infer<typeof schema>;

export type JobKind = 'portrait' | 'restore' | 'upscale';

/** The typed configuration every process runs on; built once at start by {@link loadConfig}. */
export interface Config {
  env: string;
  logLevel: Env['LOG_LEVEL'];
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  dataDir: string;
  storage: { kind: 'fs' } | { kind: 's3'; endpoint?: string; bucket: string; region?: string; accessKeyId?: string; secretAccessKey?: string; forcePathStyle: boolean };
  /** How long stored pixels are kept; 0 keeps them forever. Rows (usage) are kept either way. */
  retention: { inputDays: number; outputDays: number };
  gpu: {
    backend: Env['GPU_BACKEND'];
    concurrency: number;
    attempts: number;
    lockMs: number;
    /** First retry delay; doubles per attempt. */
    retryBackoffMs: number;
    instantDelayMs: number;
    /** The local backend's upscaler: ESRGAN when it fits its time budget, or always lanczos. */
    localSuperResolution: 'esrgan' | 'lanczos';
    /** Longest one backend call (every prediction of one job attempt) may take before it is cancelled and retried. */
    timeoutMs: number;
    /** How often a running prediction is polled. */
    pollIntervalMs: number;
    /** Time limit of one HTTP request to a GPU service (not of a synchronous Cog prediction). */
    httpTimeoutMs: number;
    /** Retries of one HTTP request on 429, 5xx or a network error (Retry-After honoured), before the job-level retry. */
    httpRetries: number;
    /** First HTTP retry delay when the server gives no Retry-After; doubles per retry. */
    httpRetryBaseMs: number;
    replicateToken?: string;
    replicateBaseUrl: string;
    cogEndpoints: CogEndpointConfig[];
    /** What one GPU-hour of your own Cog machines costs, in USD: the cost recorded per job. */
    cogPricePerGpuHour: number;
    /** A Cog endpoint that failed is tried again (health check first) after this long. */
    cogRetryDeadMs: number;
    modelsFile?: string;
    stylesFile?: string;
  };
  telegram?: {
    token: string;
    apiRoot: string;
    webhookUrl?: string;
    webhookSecret?: string;
    /** Where a local Bot API server (`--local`) keeps its files: the only place an absolute `file_path` is read from. */
    localFilesDir?: string;
  };
  discord?: { token: string; applicationId?: string; guildId?: string; apiBase: string };
  attachmentHosts: string[];
  http: {
    /** The public listener: `/files/`, the Telegram webhook, `/healthz`. */
    port: number;
    /** Sockets the public listener holds at once; more are refused. */
    maxConnections: number;
    /** Downloads one client address may run at once on the public listener (0: no limit). */
    downloadsPerAddress: number;
    publicUrl?: string;
    /** At least {@link MIN_ADMIN_PASSWORD} characters; without one there is no dashboard. */
    adminPassword?: string;
    /** Whether the queue dashboard may change queues (retry, pause, clean, …); read-only otherwise. */
    adminQueuesWrite: boolean;
    /** HMAC key of `/files/<token>` links; when unset (never in production), one is generated and shared through Redis. */
    linkSecret?: string;
    fileLinkTtlHours: number;
  };
  /** The operations listener: `/metrics`, `/readyz`, `/healthz`, `/admin/`; loopback unless told otherwise. */
  ops: { port: number; host: string };
  /** The likeness gate: variants scoring under `min` (0–100; 0 turns the gate off) are regenerated up to `retries` times. */
  likeness: { min: number; retries: number };
  adminIds: string[];
  credits: { freeDaily: number; prices: Record<JobKind, number>; maxActiveJobsPerUser: number };
  /**
   * `requestsPer10Min`: photo requests one person may make in 10 minutes, checked before any download
   * (refused ones count); `maxWaiting`: photo requests a process holds waiting for the intake before it says "busy".
   */
  photos: { maxBytes: number; maxPixels: number; requestsPer10Min: number; maxWaiting: number };
  /**
   * The key of the hashes a forgotten identity's ban and free-credit use are kept under:
   * TOMBSTONE_SECRET, else LINK_SECRET, else a development constant (then a database dump says who).
   */
  tombstoneKey: string;
  /** Add a small visible "AI" mark to outputs, beside the XMP provenance every output carries. */
  markOutputs: boolean;
}

/** What the process about to start will do, where that changes what config it needs. */
export interface LoadConfigOptions {
  /**
   * It serves or signs download links (`serve`, `all`): then `NODE_ENV=production` requires
   * LINK_SECRET. Default true; the CLI front-end, `migrate` and GPU workers pass false.
   */
  servesDownloads?: boolean;
}

/** Parses the environment into a {@link Config}; throws {@link ConfigError} listing every bad variable. */
/** Only for development: without TOMBSTONE_SECRET or LINK_SECRET the tombstones' hashes are keyed by this public value. */
const DEVELOPMENT_TOMBSTONE_KEY = 'likeness-development-tombstones';

export function loadConfig(env: Record<string, string | undefined> = process.env, options: LoadConfigOptions = {}): Config {
  // Empty strings (as left by `.env` templates) mean "not set".
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  if (!parsed.success) throw new ConfigError(problems);
  const e = parsed.data;

  if (e.STORAGE === 's3' && !e.S3_BUCKET) problems.push('S3_BUCKET: required when STORAGE=s3');
  if (e.GPU_BACKEND === 'replicate' && !e.REPLICATE_API_TOKEN) problems.push('REPLICATE_API_TOKEN: required when GPU_BACKEND=replicate');
  if (e.GPU_BACKEND === 'cog' && e.COG_ENDPOINTS.length === 0) problems.push('COG_ENDPOINTS: required when GPU_BACKEND=cog');
  if (e.TELEGRAM_WEBHOOK_URL && !e.TELEGRAM_WEBHOOK_SECRET) problems.push('TELEGRAM_WEBHOOK_SECRET: required with TELEGRAM_WEBHOOK_URL');
  // A generated secret lives in Redis, where every GPU worker (and anyone reaching Redis) can read it.
  if (e.NODE_ENV === 'production' && (options.servesDownloads ?? true) && !e.LINK_SECRET) {
    problems.push('LINK_SECRET: required in production (NODE_ENV=production) for `serve` and `all`; set 32+ random characters, e.g. `openssl rand -base64 48`');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    queuePrefix: e.QUEUE_PREFIX,
    dataDir: e.DATA_DIR,
    storage:
      e.STORAGE === 's3'
        ? { kind: 's3', endpoint: e.S3_ENDPOINT, bucket: e.S3_BUCKET!, region: e.S3_REGION, accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY, forcePathStyle: e.S3_FORCE_PATH_STYLE }
        : { kind: 'fs' },
    retention: { inputDays: e.INPUT_RETENTION_DAYS, outputDays: e.OUTPUT_RETENTION_DAYS },
    gpu: {
      backend: e.GPU_BACKEND,
      concurrency: e.GPU_CONCURRENCY,
      attempts: e.GPU_ATTEMPTS,
      lockMs: e.GPU_JOB_LOCK_MS,
      retryBackoffMs: e.GPU_RETRY_BACKOFF_MS,
      instantDelayMs: e.INSTANT_BACKEND_DELAY_MS,
      localSuperResolution: e.LOCAL_SUPER_RESOLUTION,
      replicateToken: e.REPLICATE_API_TOKEN,
      replicateBaseUrl: e.REPLICATE_BASE_URL,
      timeoutMs: e.GPU_TIMEOUT_MS,
      pollIntervalMs: e.GPU_POLL_INTERVAL_MS,
      httpTimeoutMs: e.GPU_HTTP_TIMEOUT_MS,
      httpRetries: e.GPU_HTTP_RETRIES,
      httpRetryBaseMs: e.GPU_HTTP_RETRY_BASE_MS,
      cogEndpoints: e.COG_ENDPOINTS,
      cogPricePerGpuHour: e.COG_PRICE_PER_GPU_HOUR,
      cogRetryDeadMs: e.COG_RETRY_DEAD_MS,
      modelsFile: e.MODELS_FILE,
      stylesFile: e.STYLES_FILE,
    },
    telegram: e.TELEGRAM_BOT_TOKEN
      ? {
          token: e.TELEGRAM_BOT_TOKEN,
          apiRoot: e.TELEGRAM_API_ROOT,
          webhookUrl: e.TELEGRAM_WEBHOOK_URL,
          webhookSecret: e.TELEGRAM_WEBHOOK_SECRET,
          localFilesDir: e.TELEGRAM_LOCAL_FILES_DIR,
        }
      : undefined,
    discord: e.DISCORD_TOKEN ? { token: e.DISCORD_TOKEN, applicationId: e.DISCORD_APPLICATION_ID, guildId: e.DISCORD_GUILD_ID, apiBase: e.DISCORD_API_BASE } : undefined,
    attachmentHosts: e.ATTACHMENT_HOSTS,
    http: {
      port: e.HTTP_PORT,
      maxConnections: e.HTTP_MAX_CONNECTIONS,
      downloadsPerAddress: e.DOWNLOADS_PER_ADDRESS,
      publicUrl: e.PUBLIC_URL,
      adminPassword: e.ADMIN_PASSWORD,
      adminQueuesWrite: e.ADMIN_QUEUES_WRITE,
      linkSecret: e.LINK_SECRET,
      fileLinkTtlHours: e.FILE_LINK_TTL_HOURS,
    },
    ops: { port: e.OPS_PORT, host: e.OPS_HOST },
    likeness: { min: e.LIKENESS_MIN, retries: e.LIKENESS_RETRIES },
    adminIds: e.ADMIN_IDS,
    credits: {
      freeDaily: e.FREE_DAILY_CREDITS,
      prices: { portrait: e.PRICE_PORTRAIT, restore: e.PRICE_RESTORE, upscale: e.PRICE_UPSCALE },
      maxActiveJobsPerUser: e.MAX_ACTIVE_JOBS_PER_USER,
    },
    photos: { maxBytes: e.MAX_PHOTO_BYTES, maxPixels: e.MAX_PHOTO_PIXELS, requestsPer10Min: e.PHOTO_REQUESTS_PER_10_MIN, maxWaiting: e.INTAKE_MAX_WAITING },
    markOutputs: e.MARK_OUTPUTS,
    tombstoneKey: e.TOMBSTONE_SECRET ?? e.LINK_SECRET ?? DEVELOPMENT_TOMBSTONE_KEY,
  };
}

/** Secrets of a config, for redaction of anything that might echo them. */
export function configSecrets(config: Config): string[] {
  return [
    config.telegram?.token,
    config.telegram?.webhookSecret,
    config.discord?.token,
    config.gpu.replicateToken,
    config.http.adminPassword,
    config.http.linkSecret,
    config.tombstoneKey === DEVELOPMENT_TOMBSTONE_KEY ? undefined : config.tombstoneKey,
    config.storage.kind === 's3' ? config.storage.secretAccessKey : undefined,
  ].filter((s): s is string => typeof s === 'string' && s.length > 0);
}
