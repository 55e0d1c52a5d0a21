import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

const REDACTED = '[REDACTED]';

/** Keys whose values are secrets wherever they appear (one level deep and at the top). */
const SECRET_KEYS = ['token', 'apiToken', 'botToken', 'password', 'secret', 'authorization', 'Authorization', 'cookie', 'accessKeyId', 'secretAccessKey'];
const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  'headers.authorization',
  '*.headers.authorization',
  '*.headers["x-telegram-bot-api-secret-token"]',
];

/** Token shapes that leak through strings: Telegram's `bot<id>:<secret>` paths, bearer headers, Replicate keys. */
const TOKEN_PATTERNS: Array<[RegExp, string]> = [
  [/bot\d+:[\w-]{20,}/g, `bot${REDACTED}`],
  [/\b(Bearer|Bot|Token)\s+[\w.~+/-]{16,}=*/gi, `$1 ${REDACTED}`],
  [/\br8_[A-Za-z0-9]{20,}/g, REDACTED],
  // Discord interaction and webhook tokens travel in the path: /webhooks/<app id>/<token>, /interactions/<id>/<token>.
  [/(\/(?:webhooks|interactions)\/\d+\/)[\w.-]{20,}/g, `$1${REDACTED}`],
  // Passwords inside connection URLs (postgres://user:secret@host, redis://:secret@host).
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s/]+@/gi, `$1${REDACTED}@`],
  [/([?&](?:token|sig|signature|key|X-Amz-Signature|X-Amz-Credential)=)[^&\s"]+/gi, `$1${REDACTED}`],
];

export interface LoggerOptions {
  level?: string;
  /** Literal secrets (from config) to scrub from any string that reaches the log. */
  secrets?: string[];
  destination?: DestinationStream;
}

/** Replaces known secrets (of any length: config refuses the ones too short to be safe) and token-shaped substrings in a string. */
export function scrubText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join(REDACTED);
  for (const [pattern, replacement] of TOKEN_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

function scrubValue(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value, secrets);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  if (value instanceof Error) {
    const plain: Record<string, unknown> = { type: value.name, message: value.message, stack: value.stack };
    for (const [k, v] of Object.entries(value)) plain[k] = v;
    if (value.cause !== undefined) plain.cause = value.cause;
    return scrubValue(plain, secrets, depth + 1);
  }
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubValue(v, secrets, depth + 1);
  return out;
}

/** Where a root logger keeps its literal secrets; its child loggers inherit the property. */
const SECRETS = Symbol('likeness.logger.secrets');

/**
 * Adds a secret learned after start (the generated link secret) to the literal secrets that
 * `logger`'s root, made by {@link createLogger}, scrubs from every line, its children's included.
 * A logger not made by createLogger is left as it is.
 */
export function addLogSecret(logger: Logger, secret: string): void {
  const secrets = (logger as Logger & { [SECRETS]?: string[] })[SECRETS];
  if (secrets && secret.length > 0 && !secrets.includes(secret)) secrets.push(secret);
}

/** The root logger: structured JSON, secrets redacted by key, by value and by shape. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const secrets = [...(options.secrets ?? [])];
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { service: 'likeness' },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      formatters: { log: (obj) => scrubValue(obj, secrets) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          const clean = args.map((a) => (typeof a === 'string' ? scrubText(a, secrets) : a)) as Parameters<typeof method>;
          method.apply(this, clean);
        },
      },
    },
    options.destination,
  );
  // pino makes a child with Object.create(parent), so children see this too.
  Object.defineProperty(logger, SECRETS, { value: secrets });
  return logger;
}
