import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Events, GatewayDispatchEvents, RESTEvents, type Client, type GatewayMessageReactionAddDispatchData } from 'discord.js';
import type { Redis } from 'ioredis';
import type { App } from '../../app.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { ChatPort, SignedLinks } from '../core/deliverer.js';
import { createRequestLife } from '../core/request-life.js';
import { attachmentPolicy, type AttachmentPolicy } from './attachments.js';
import { createDiscordClient, createDiscordRest, type ShardingOptions } from './discord-client.js';
import { safeDiscordError } from './discord-errors.js';
import { createRedisDiscordState, type DiscordState } from './discord-state.js';
import { createDiscordChat } from './discord-chat.js';
import { createInteractionAcknowledger } from './interaction-ack.js';
import { createInteractionAnswer } from './interaction-answer.js';
import { createInteractionCallbackPoster } from './interaction-callback.js';
import { createInteractionHandler } from './interaction-handlers.js';
import { createReactionHandler } from './reaction-handler.js';

export { TOKEN_KEEP_MS } from './interaction-answer.js';

/** Knobs with production defaults; tests turn some of them. */
export interface DiscordTuning extends ShardingOptions {
  /** Test only: fetch attachments from loopback (the fake CDN). Never in production. */
  allowPrivateAttachmentAddresses: boolean;
  downloadTimeoutMs: number;
  /** The longest `stop()` waits for interactions being handled (default 10 s). */
  drainMs: number;
  /** Shared state; default Redis (the `redis` connection given). */
  state?: DiscordState;
}

export interface DiscordFrontendDeps {
  app: Pick<App, 'commands' | 'styles' | 'store' | 'repos' | 'heldRequests' | 'intake'>;
  config: Pick<Config, 'discord' | 'attachmentHosts' | 'queuePrefix'>;
  logger: Logger;
  /** An ioredis connection for the follow-up tokens and delivery steps; the caller owns (and closes) it. */
  redis: Redis;
  /** Signed download links for files too large to upload (the HTTP server's, when it has them). */
  links?: SignedLinks;
  tuning?: Partial<DiscordTuning>;
}

/** The Discord front-end of a bots process. */
export interface DiscordFrontend {
  /** The discord.js gateway client. */
  readonly client: Client;
  /** For the delivery worker: `new Map([['discord', frontend.deliverer]])`. Works without `start()` (REST only). */
  readonly deliverer: ChatPort;
  /** Connects to the gateway (URL from `GET /gateway/bot`) and resolves once every shard is ready. Registers no commands. */
  start(): Promise<void>;
  /** Disconnects from the gateway and waits for the interactions being handled. Deliveries keep working. */
  stop(): Promise<void>;
}

/**
 * Builds the discord.js front-end over the command layer. Every interaction is acknowledged
 * (deferred, ephemerally) before anything is awaited, from its raw gateway packet (before
 * discord.js builds its objects), then answered by editing that reply: the
 * queue position, the consent card, or a friendly error only the person sees. Results come later
 * through the deliverer. Reactions on result messages (1️⃣–4️⃣, ⭐, 🔄, 👎, ❌) count only from
 * the person who asked. The bot token stays inside discord.js; interaction tokens go to Redis
 * only, for as long as Discord honours them, never to Postgres or the logs.
 */
export function createDiscordFrontend(deps: DiscordFrontendDeps): DiscordFrontend {
  const discord = deps.config.discord;
  if (!discord) throw new Error('DISCORD_TOKEN is not set');
  const { app } = deps;
  const logger = deps.logger.child({ platform: 'discord' });
  const tuning: DiscordTuning = { allowPrivateAttachmentAddresses: false, downloadTimeoutMs: 30_000, drainMs: 10_000, ...deps.tuning };
  const ackFirst = app.intake;
  const policy: AttachmentPolicy = attachmentPolicy(deps.config.attachmentHosts, {
    allowPrivateAddresses: tuning.allowPrivateAttachmentAddresses,
    timeoutMs: tuning.downloadTimeoutMs,
  });
  const state = tuning.state ?? createRedisDiscordState(deps.redis, `${deps.config.queuePrefix}:dc`);

  const client = createDiscordClient(discord, { shards: tuning.shards, shardCount: tuning.shardCount });
  // Deliveries have their own REST client: they go on after the gateway is closed (`stop()` forgets the client's token).
  const deliveryRest = createDiscordRest(discord);
  const deliverer = createDiscordChat({ rest: deliveryRest, store: app.store, state, policy, links: deps.links, logger });
  const life = createRequestLife({ commands: app.commands, repos: app.repos, chat: deliverer, held: app.heldRequests, gate: app.intake, logger });

  const inFlight = new Set<Promise<void>>();
  let stopping = false;
  let closing = false;
  const track = (work: Promise<void>) => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  };

  // Acknowledgements go out from the raw gateway packets, on their own lean HTTP client.
  const callbacks = createInteractionCallbackPoster(discord.apiBase);
  const acknowledger = createInteractionAcknowledger({ client, poster: callbacks, ackFirst, logger, accepting: () => !stopping });
  const answering = createInteractionAnswer({ life, gate: app.intake, state });
  const onInteraction = createInteractionHandler({ app, acknowledger, answering, policy, logger });
  const onReaction = createReactionHandler({ life, client });

  // ---------- wiring ----------

  client.on(Events.InteractionCreate, (interaction) => {
    if (!stopping) track(onInteraction(interaction));
  });
  client.ws.on(GatewayDispatchEvents.MessageReactionAdd, (data: GatewayMessageReactionAddDispatchData) => {
    if (stopping) return;
    track(onReaction(data).catch((error: unknown) => logger.error({ err: safeDiscordError(error), messageId: data.message_id }, 'discord reaction failed')));
  });
  client.on(Events.Error, (error) => logger.error({ err: safeDiscordError(error) }, 'discord client error'));
  client.on(Events.Warn, (message) => logger.warn({ message }, 'discord client warning'));
  client.on(Events.ShardError, (error, shardId) => logger.warn({ err: safeDiscordError(error), shardId }, 'discord shard error'));
  client.on(Events.ShardDisconnect, (event, shardId) => logger.warn({ code: event.code, shardId }, 'discord shard disconnected for good'));
  client.on(Events.ShardReconnecting, (shardId) => {
    if (!closing) logger.info({ shardId }, 'discord shard reconnecting');
  });
  for (const rest of [client.rest, deliveryRest]) {
    // Only what is safe to log: the bucket's route template, never the URL (it may hold an interaction token).
    rest.on(RESTEvents.RateLimited, (info) =>
      logger.info({ route: info.route, method: info.method, global: info.global, scope: info.scope, timeToResetMs: info.timeToReset, limit: info.limit }, 'discord rate limit: waiting'),
    );
  }

  return {
    client,
    deliverer,
    async start() {
      const abandon = new AbortController();
      const ready = once(client, Events.ClientReady, { signal: abandon.signal });
      ready.catch(() => undefined); // settled below, or abandoned when login fails
      try {
        await client.login(discord.token);
      } catch (error) {
        abandon.abort();
        throw safeDiscordError(error);
      }
      await ready;
      logger.info({ shards: client.ws.shards.size, user: client.user?.id }, 'discord gateway ready');
    },
    async stop() {
      closing = true;
      await client.destroy();
      stopping = true;
      // destroy() forgets the token; handlers still finishing need it for their last requests.
      client.rest.setToken(discord.token);
      await Promise.race([Promise.allSettled([...inFlight]), sleep(tuning.drainMs, undefined, { ref: false })]);
      callbacks.close();
      logger.info('discord gateway closed');
    },
  };
}
