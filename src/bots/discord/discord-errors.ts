import { DiscordAPIError, HTTPError } from 'discord.js';

/** The Discord JSON error codes this adapter acts on. */
export const DISCORD_ERROR = {
  unknownChannel: 10003,
  unknownMessage: 10008,
  unknownWebhook: 10015,
  unknownInteraction: 10062,
  requestTooLarge: 40005,
  alreadyAcknowledged: 40060,
  missingAccess: 50001,
  cannotMessageUser: 50007,
  missingPermissions: 50013,
  invalidWebhookToken: 50027,
} as const;

/**
 * Interaction tokens ride in URL paths (`/interactions/<id>/<token>/callback`,
 * `/webhooks/<application>/<token>`): a credential for 15 minutes that must never reach a log.
 */
const TOKEN_IN_PATH = /\/(interactions|webhooks)\/(\d+)\/[^/?\s"']+/g;

/** A string with interaction and webhook tokens taken out of any Discord URL in it. */
export function scrubDiscordText(text: string): string {
  return text.replace(TOKEN_IN_PATH, '/$1/$2/[REDACTED]');
}

/**
 * A failed Discord request, with nothing secret in it: discord.js errors carry the request URL
 * (and with it an interaction token) and the request body. This keeps what says why.
 */
export class DiscordRequestError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly discordCode: number | undefined,
    readonly method: string | undefined,
    readonly path: string | undefined,
  ) {
    super(message);
    this.name = 'DiscordRequestError';
  }
}

/** Any error from discord.js or the network, made safe to log and to throw across the queue. */
export function safeDiscordError(error: unknown): Error {
  if (error instanceof DiscordRequestError) return error;
  if (error instanceof DiscordAPIError) {
    const code = typeof error.code === 'number' ? error.code : undefined;
    return new DiscordRequestError(scrubDiscordText(`Discord said ${error.status} (${error.code}): ${error.message}`), error.status, code, error.method, pathOf(error.url));
  }
  if (error instanceof HTTPError) {
    return new DiscordRequestError(`Discord answered HTTP ${error.status}`, error.status, undefined, error.method, pathOf(error.url));
  }
  if (error instanceof Error) {
    const safe = new Error(scrubDiscordText(error.message));
    safe.name = error.name;
    const code = (error as { code?: unknown }).code ?? (error.cause as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string' || typeof code === 'number') Object.assign(safe, { code });
    return safe;
  }
  return new Error(scrubDiscordText(String(error)));
}

function pathOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return scrubDiscordText(new URL(url).pathname);
  } catch {
    return undefined;
  }
}

const codeOf = (error: unknown): number | undefined => {
  if (error instanceof DiscordAPIError) return typeof error.code === 'number' ? error.code : undefined;
  if (error instanceof DiscordRequestError) return error.discordCode;
  return undefined;
};
const statusOf = (error: unknown): number | undefined =>
  error instanceof DiscordAPIError || error instanceof HTTPError || error instanceof DiscordRequestError ? error.status : undefined;

/** The interaction was already answered (a replay) or is gone (older than 3 s, or never existed). */
export function isStaleInteraction(error: unknown): boolean {
  const code = codeOf(error);
  return code === DISCORD_ERROR.alreadyAcknowledged || code === DISCORD_ERROR.unknownInteraction;
}

/** The interaction's webhook can no longer be used: its token passed its 15 minutes. */
export function isTokenExpired(error: unknown): boolean {
  const code = codeOf(error);
  return code === DISCORD_ERROR.invalidWebhookToken || code === DISCORD_ERROR.unknownWebhook || code === DISCORD_ERROR.unknownInteraction || statusOf(error) === 401;
}

/** The bot may not post here (kicked, no permission, channel deleted, DMs closed): retrying cannot help. */
export function isClosedToBot(error: unknown): boolean {
  const code = codeOf(error);
  if (code === DISCORD_ERROR.missingAccess || code === DISCORD_ERROR.missingPermissions || code === DISCORD_ERROR.unknownChannel) return true;
  if (code === DISCORD_ERROR.cannotMessageUser) return true;
  return statusOf(error) === 403;
}

/** The message is gone (deleted by someone) or cannot be edited by us. */
export function isMessageGone(error: unknown): boolean {
  const code = codeOf(error);
  return code === DISCORD_ERROR.unknownMessage || statusOf(error) === 404;
}
