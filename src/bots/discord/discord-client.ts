import { Client, GatewayIntentBits, Options, Partials, REST, type RESTOptions } from 'discord.js';
import type { Config } from '../../config.js';

type DiscordConfig = NonNullable<Config['discord']>;

/**
 * What the features need and nothing privileged: slash commands and buttons arrive as
 * interactions whatever the intents; reactions need the two reaction intents; Guilds keeps the
 * channel cache discord.js resolves interactions against; DirectMessages lets DMs be channels.
 * No GuildMembers, GuildPresences or MessageContent (the privileged three).
 */
export const DISCORD_INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessageReactions,
  GatewayIntentBits.DirectMessages,
  GatewayIntentBits.DirectMessageReactions,
] as const;

/** Partial structures, so reactions on messages sent before a restart (not in any cache) are still emitted. */
export const DISCORD_PARTIALS = [Partials.Channel, Partials.Message, Partials.Reaction, Partials.User, Partials.GuildMember] as const;

/** How the gateway is split into shards (see README.md beside this file). */
export interface ShardingOptions {
  /** `'auto'` (default): as many shards as `GET /gateway/bot` recommends, all in this process; or the ids this process runs. */
  shards?: 'auto' | readonly number[];
  /** Total shards across every process; required with an explicit list of ids. */
  shardCount?: number;
}

/** REST options shared by the gateway client and the deliverer: `DISCORD_API_BASE`, long uploads, long rate limits handed to the queue. */
export function restOptions(discord: DiscordConfig, overrides: Partial<RESTOptions> = {}): Partial<RESTOptions> {
  return {
    api: discord.apiBase,
    version: '10',
    // An 8K upload on a slow link takes a while.
    timeout: 60_000,
    retries: 3,
    // Short 429s are waited out here; a long one fails the attempt, and the delivery queue retries later.
    rejectOnRateLimit: (data) => data.timeToReset > 60_000,
    ...overrides,
  };
}

/** A REST client with the bot token, for deliveries and command registration (no gateway). */
export function createDiscordRest(discord: DiscordConfig, overrides: Partial<RESTOptions> = {}): REST {
  return new REST(restOptions(discord, overrides)).setToken(discord.token);
}

/**
 * The gateway client: the intents and partials above, REST at `DISCORD_API_BASE` (the gateway URL
 * then comes from `GET /gateway/bot`), and no message cache (the bot never reads old messages;
 * reactions are traced through Postgres). Call `login(token)` to connect.
 */
export function createDiscordClient(discord: DiscordConfig, sharding: ShardingOptions = {}, rest: Partial<RESTOptions> = {}): Client {
  return new Client({
    intents: [...DISCORD_INTENTS],
    partials: [...DISCORD_PARTIALS],
    rest: restOptions(discord, rest),
    shards: sharding.shards === undefined || sharding.shards === 'auto' ? 'auto' : [...sharding.shards],
    ...(sharding.shardCount ? { shardCount: sharding.shardCount } : {}),
    makeCache: Options.cacheWithLimits({ ...Options.DefaultMakeCacheSettings, MessageManager: 0, ReactionManager: 0, ReactionUserManager: 0 }),
    allowedMentions: { parse: [] },
    failIfNotExists: false,
  });
}
