import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Events,
  GatewayDispatchEvents,
  MessageFlags,
  RESTEvents,
  Routes,
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Client,
  type GatewayMessageReactionAddDispatchData,
  type Interaction,
  type RepliableInteraction,
} from 'discord.js';
import type { Redis } from 'ioredis';
import type { App } from '../../app.js';
import type { Config } from '../../config.js';
import { getJob } from '../../db/jobs.repository.js';
import { findResultsByMessage } from '../../db/results.repository.js';
import type { Conversation } from '../../db/schema.js';
import type { Logger } from '../../logger.js';
import { COMMAND_CATALOG } from '../core/command-catalog.js';
import type { Deliverer } from '../core/deliverer.js';
import { failedReply } from '../core/job-updates.js';
import { apology, messageFor } from '../core/messages.js';
import type { Reply } from '../core/reply.js';
import type { CommandName, PhotoSource, Request } from '../core/request.js';
import { createAckFirst } from './ack-first.js';
import { attachmentPolicy, discordPhotoSource, type AttachmentPolicy } from './attachments.js';
import { createDiscordClient, createDiscordRest, type ShardingOptions } from './discord-client.js';
import { isStaleInteraction, safeDiscordError } from './discord-errors.js';
import { createRedisDiscordState, type DiscordState } from './discord-state.js';
import { decodeCustomId, JOB_COMMANDS, messageBody, messageKey, optionsFromSlash, reactionIntent, SLASH_COMMANDS } from './discord-translation.js';
import { createDiscordDeliverer, DONE_TEXT, type SignedLinks } from './discord.deliverer.js';
import { photoOptionNames, styleSuggestions } from './slash-commands.js';

/** A reaction may beat the recording of its message's id by a moment (see findResultsByMessage). */
const REACTION_LOOKUP = { retries: 10, delayMs: 300 };

/** An interaction token works for 15 minutes; it is kept a minute less, so a delivery never races its end. */
export const TOKEN_KEEP_MS = 14 * 60 * 1000;

/** Said on the bot's own status message when a reaction asks for work. */
const ONE_MOMENT_TEXT = '⏳ One moment…';

/** Knobs with production defaults; tests turn some of them. */
export interface DiscordTuning extends ShardingOptions {
  /** Test only: fetch attachments from loopback (the fake CDN). Never in production. */
  allowPrivateAttachmentAddresses: boolean;
  downloadTimeoutMs: number;
  /** The longest `stop()` waits for interactions being handled (default 10 s). */
  drainMs: number;
  /** Requests with photos handled at once, after the acknowledgements in flight (default 4; see ack-first.ts). */
  photoConcurrency: number;
  /** Shared state; default Redis (the `redis` connection given). */
  state?: DiscordState;
}

export interface DiscordFrontendDeps {
  app: Pick<App, 'commands' | 'styles' | 'database' | 'store'>;
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
  readonly deliverer: Deliverer;
  /** Connects to the gateway (URL from `GET /gateway/bot`) and resolves once every shard is ready. Registers no commands. */
  start(): Promise<void>;
  /** Disconnects from the gateway and waits for the interactions being handled. Deliveries keep working. */
  stop(): Promise<void>;
}

/** The option names that carry photos, per command (`photo1`…`photo4`, `photo`). */
const PHOTO_OPTIONS: ReadonlyMap<CommandName, string[]> = new Map(
  COMMAND_CATALOG.map((entry) => [entry.command, entry.options.filter((o) => o.kind === 'photos').flatMap((o) => photoOptionNames(o))]),
);

/**
 * Builds the discord.js front-end over the command layer. Every interaction is acknowledged
 * (deferred, ephemerally) before anything is awaited, then answered by editing that reply: the
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
  const tuning: DiscordTuning = { allowPrivateAttachmentAddresses: false, downloadTimeoutMs: 30_000, drainMs: 10_000, photoConcurrency: 4, ...deps.tuning };
  const ackFirst = createAckFirst({ concurrency: tuning.photoConcurrency });
  const policy: AttachmentPolicy = attachmentPolicy(deps.config.attachmentHosts, {
    allowPrivateAddresses: tuning.allowPrivateAttachmentAddresses,
    timeoutMs: tuning.downloadTimeoutMs,
  });
  const state = tuning.state ?? createRedisDiscordState(deps.redis, `${deps.config.queuePrefix}:dc`);

  const client = createDiscordClient(discord, { shards: tuning.shards, shardCount: tuning.shardCount });
  // Deliveries have their own REST client: they go on after the gateway is closed (`stop()` forgets the client's token).
  const deliveryRest = createDiscordRest(discord);
  const deliverer = createDiscordDeliverer({ rest: deliveryRest, store: app.store, state, links: deps.links, logger });

  const inFlight = new Set<Promise<void>>();
  let stopping = false;
  let closing = false;
  const track = (work: Promise<void>) => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  };

  // ---------- acknowledging ----------

  /** Waits for the acknowledgement; false when Discord refused it (a replay, or too late): nothing more to do then. */
  async function acknowledged(ack: Promise<unknown>, log: Logger, started: number): Promise<boolean> {
    try {
      await ack;
      log.debug({ ackMs: Math.round(performance.now() - started) }, 'interaction acknowledged');
      return true;
    } catch (error) {
      if (isStaleInteraction(error)) log.info({ err: safeDiscordError(error) }, 'interaction already acknowledged or expired; ignored');
      else log.warn({ err: safeDiscordError(error) }, 'could not acknowledge an interaction');
      return false;
    }
  }

  /** Keeps the follow-up token (and the upload limit) for the delivery, before the job exists: a fast job may finish before the reply. */
  async function rememberToken(interaction: RepliableInteraction): Promise<void> {
    await state.rememberInteraction(
      interaction.id,
      { applicationId: interaction.applicationId, token: interaction.token, attachmentSizeLimit: interaction.attachmentSizeLimit || 10 * 1024 * 1024 },
      interaction.createdTimestamp + TOKEN_KEEP_MS,
    );
  }

  const userOf = (interaction: Interaction) => ({ id: interaction.user.id, displayName: interaction.user.globalName ?? interaction.user.username });

  function conversationOf(interaction: Interaction, privately: boolean): Conversation {
    return {
      platform: 'discord',
      chatId: interaction.channelId ?? '',
      // The interaction id finds its follow-up token in Redis; the token itself is never stored here.
      threadId: interaction.id,
      userId: interaction.user.id,
      ...(privately ? { private: true } : {}),
    };
  }

  /** Runs a request and shows its answer in the deferred reply; an unexpected failure still gets a word. */
  async function answer(interaction: RepliableInteraction, request: Request, log: Logger): Promise<void> {
    try {
      // Nothing after the acknowledgement may hold up other interactions' acknowledgements.
      await ackFirst.quiet();
      if (JOB_COMMANDS.has(request.command)) await rememberToken(interaction);
      const reply = await handle(request);
      await interaction.editReply(replyBody(reply, request.user.id));
      if (reply.job) {
        await reconcileStatus(reply.job.id, request.conversation, (body) => interaction.editReply(body));
      }
    } catch (error) {
      const ref = randomBytes(4).toString('hex');
      log.error({ err: safeDiscordError(error), ref }, 'discord interaction failed');
      await interaction.editReply({ content: apology(ref), components: [] }).catch(() => undefined);
    }
  }

  /** The command layer, after the acknowledgements in flight; requests with photos a few at a time. */
  async function handle(request: Request): Promise<Reply> {
    if (request.photos?.length) return ackFirst.heavy(() => app.commands.handle(request));
    await ackFirst.quiet();
    return app.commands.handle(request);
  }

  /**
   * A fast job may be delivered before "queued" was written over its status: then the delivery's
   * last word was overwritten, and is said again. (A redelivered event's status belongs to the first.)
   */
  async function reconcileStatus(jobId: string, conversation: Conversation, edit: (body: { content: string; components: [] }) => Promise<unknown>): Promise<void> {
    const job = await getJob(app.database.db, jobId);
    if (!job || job.conversation?.threadId !== conversation.threadId || job.conversation?.statusMessageId !== conversation.statusMessageId) return;
    if (job.status === 'succeeded') await edit({ content: DONE_TEXT, components: [] });
    else if (job.status === 'failed' || job.status === 'cancelled') await edit({ content: failedReply(job).text, components: [] });
  }

  const replyBody = (reply: Reply, owner: string) => {
    const body = messageBody(reply, { owner });
    return { content: body.content, components: body.components, allowedMentions: { parse: [] } };
  };

  // ---------- interactions ----------

  async function onSlash(interaction: ChatInputCommandInteraction): Promise<void> {
    const started = performance.now();
    // Acknowledge first, before any awaited I/O: Discord forgets an interaction not answered within 3 s.
    const ack = ackFirst.acknowledging(interaction.deferReply({ flags: MessageFlags.Ephemeral }));
    const log = logger.child({ interactionId: interaction.id, command: interaction.commandName });
    if (!(await acknowledged(ack, log, started))) return;
    const command = SLASH_COMMANDS.get(interaction.commandName);
    if (!command) {
      await interaction.editReply({ content: messageFor('UNKNOWN_COMMAND') }).catch(() => undefined);
      return;
    }
    const options = optionsFromSlash(command, interaction.options.data);
    const photos: PhotoSource[] = (PHOTO_OPTIONS.get(command) ?? []).flatMap((name) => {
      const attachment = interaction.options.getAttachment(name);
      return attachment ? [discordPhotoSource({ url: attachment.url, size: attachment.size, name: attachment.name }, attachment.name || name, policy)] : [];
    });
    const request: Request = {
      platform: 'discord',
      eventId: interaction.id,
      user: userOf(interaction),
      conversation: conversationOf(interaction, options.subject === 'memorial'),
      command,
      ...(photos.length > 0 ? { photos } : {}),
      options,
    };
    await answer(interaction, request, log);
  }

  async function onButton(interaction: ButtonInteraction): Promise<void> {
    const started = performance.now();
    const press = decodeCustomId(interaction.customId);
    const log = logger.child({ interactionId: interaction.id, button: press?.command });
    // Someone else's button: a notice only the presser sees, straight away and without a lookup.
    if (!press || (press.owner && press.owner !== interaction.user.id)) {
      const content = press ? messageFor('NOT_YOURS') : 'That button no longer works. Please run the command again.';
      await acknowledged(ackFirst.acknowledging(interaction.reply({ content, flags: MessageFlags.Ephemeral })), log, started);
      return;
    }
    // The terms and "delete everything?" are answered in place; work gets its own status message.
    const inPlace = press.command === 'consent' || press.command === 'forget';
    const ack = ackFirst.acknowledging(inPlace ? interaction.deferUpdate() : interaction.deferReply({ flags: MessageFlags.Ephemeral }));
    if (!(await acknowledged(ack, log, started))) return;
    const request: Request = {
      platform: 'discord',
      eventId: interaction.id,
      user: userOf(interaction),
      // A button on a private (ephemeral) result keeps what it makes private too.
      conversation: conversationOf(interaction, interaction.message.flags.has(MessageFlags.Ephemeral)),
      command: press.command,
      ...(press.target ? { target: press.target } : {}),
    };
    await answer(interaction, request, log);
  }

  async function onAutocomplete(interaction: AutocompleteInteraction): Promise<void> {
    const focused = interaction.options.getFocused(true);
    const choices = focused.name === 'style' ? styleSuggestions(app.styles, String(focused.value)) : [];
    await interaction.respond(choices).catch((error: unknown) => logger.debug({ err: safeDiscordError(error) }, 'autocomplete not answered'));
  }

  async function onInteraction(interaction: Interaction): Promise<void> {
    try {
      if (interaction.isChatInputCommand()) await onSlash(interaction);
      else if (interaction.isButton()) await onButton(interaction);
      else if (interaction.isAutocomplete()) await onAutocomplete(interaction);
    } catch (error) {
      logger.error({ err: safeDiscordError(error), interactionId: interaction.id }, 'discord interaction failed');
    }
  }

  // ---------- reactions ----------

  /**
   * A reaction on a result message, read from the raw gateway event: it carries every id needed,
   * and no cache has to know the channel or the message (they may predate a restart). Only the
   * requester's reactions count; everyone else's are ignored without a word.
   */
  async function onReaction(data: GatewayMessageReactionAddDispatchData): Promise<void> {
    if (data.user_id === client.user?.id || data.member?.user.bot) return;
    const intent = reactionIntent(data.emoji.id ? undefined : data.emoji.name);
    if (!intent) return;
    const results = await findResultsByMessage(app.database.db, messageKey(data.message_id), REACTION_LOOKUP);
    const first = results[0];
    if (!first) return;
    const job = await getJob(app.database.db, first.jobId);
    if (!job?.conversation || job.conversation.userId !== data.user_id) return;
    // Picks mean something on portraits (and a restored photo); re-rolls on portraits only; ❌ on anything we posted.
    if ((intent.kind === 'upscale' || intent.kind === 'upscale-only') && job.kind === 'upscale') return;
    if ((intent.kind === 'reroll' || intent.kind === 'notthem') && job.kind !== 'portrait') return;
    const log = logger.child({ messageId: data.message_id, reaction: intent.kind, jobId: job.id });

    if (intent.kind === 'delete') {
      await client.rest.delete(Routes.channelMessage(data.channel_id, data.message_id));
      log.info('result message deleted by its requester');
      return;
    }
    let command: CommandName;
    let target: string | undefined;
    if (intent.kind === 'upscale' || intent.kind === 'upscale-only') {
      const result = intent.kind === 'upscale' ? results.find((r) => r.variant === intent.variant) : results.length === 1 ? first : undefined;
      if (!result) return;
      command = 'upscale';
      target = result.id;
    } else {
      command = intent.kind;
      target = job.id;
    }

    const conversation: Conversation = {
      platform: 'discord',
      chatId: data.channel_id,
      messageId: data.message_id,
      userId: data.user_id,
      ...(job.conversation.private ? { private: true } : {}),
    };
    // A status message at once (a reaction has no interaction to defer); whoever delivers edits it.
    const status = await postMessage(conversation, ONE_MOMENT_TEXT).catch((error: unknown) => {
      log.warn({ err: safeDiscordError(error) }, 'could not post a status message');
      return undefined;
    });
    if (status) conversation.statusMessageId = status;
    const reply = await handle({
      platform: 'discord',
      // A reaction has no event id; this one repeats only if the same person adds the same emoji again.
      eventId: `reaction:${data.message_id}:${data.user_id}:${data.emoji.name ?? ''}`,
      user: { id: data.user_id, displayName: data.member?.user.global_name ?? data.member?.user.username },
      conversation,
      command,
      target,
    });
    const body = messageBody(reply, { owner: data.user_id });
    if (!status) {
      await postMessage(conversation, reply.text);
      return;
    }
    const editStatus = (edit: { content: string; components: unknown[] }) => client.rest.patch(Routes.channelMessage(data.channel_id, status), { body: edit });
    await editStatus({ content: body.content, components: body.components });
    if (reply.job) await reconcileStatus(reply.job.id, conversation, editStatus);
  }

  async function postMessage(conversation: Conversation, content: string): Promise<string> {
    const sent = (await client.rest.post(Routes.channelMessages(conversation.chatId), {
      body: {
        content,
        allowed_mentions: { parse: [] },
        ...(conversation.messageId ? { message_reference: { message_id: conversation.messageId, fail_if_not_exists: false } } : {}),
      },
    })) as { id: string };
    return sent.id;
  }

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
      logger.info('discord gateway closed');
    },
  };
}
