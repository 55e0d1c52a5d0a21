/**
 * A fake of Discord on loopback, close enough that the real discord.js client drives it: REST
 * (`GET /gateway/bot`, interaction callbacks, webhook follow-ups and edits with multipart files,
 * channel messages, reactions, DM channels, command registration), the gateway WebSocket (HELLO,
 * IDENTIFY → READY + GUILD_CREATE, heartbeat ACK, dispatches on the right shard) and a CDN for
 * attachments on its own port. It keeps what it was sent, so tests can look at messages, files
 * and timings; and it misbehaves on request (429s, expired tokens, channels closed to the bot).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

const DISCORD_EPOCH = 1420070400000n;
let sequence = 0n;

/** A snowflake for "now": 18–19 digits, ordered in time, as Discord's are. */
export function snowflake(at = Date.now()): string {
  sequence = (sequence + 1n) & 0xfffn;
  return String(((BigInt(at) - DISCORD_EPOCH) << 22n) | (1n << 17n) | sequence);
}

export const FAKE_BOT_TOKEN = 'MTQxMjM0NTY3ODkwMTIzNDU2Nw.GfAkEt.fake_Bot-Token_value0123456789abcdefghij';

export interface FakeUser {
  id: string;
  username: string;
  global_name: string | null;
  discriminator: string;
  avatar: null;
  bot?: boolean;
}

export interface FakeAttachment {
  id: string;
  filename: string;
  size: number;
  url: string;
  proxy_url: string;
  content_type?: string;
  width?: number;
  height?: number;
}

export interface FakeMessage {
  id: string;
  channel_id: string;
  guild_id?: string;
  content: string;
  flags: number;
  components: unknown[];
  attachments: FakeAttachment[];
  /** The uploaded bytes of each attachment, by filename. */
  files: Map<string, Buffer>;
  author: FakeUser;
  webhook_id?: string;
  /** How it was made: a follow-up or original response of an interaction, or a channel message. */
  via: { kind: 'original' | 'followup'; interactionId: string } | { kind: 'channel' };
  reactions: string[];
  deleted: boolean;
  edits: number;
  /** Every content it has had, oldest first. */
  history: string[];
  /** When each content edit arrived (performance.now()). */
  editedAt: number[];
  allowedMentions?: unknown;
  createdAt: number;
}

export interface FakeInteraction {
  id: string;
  token: string;
  type: number;
  user: FakeUser;
  channelId: string;
  guildId?: string;
  payload: Record<string, unknown>;
  /** When the gateway dispatch was written to the socket (performance.now()). */
  dispatchedAt: number;
  callbacks: Array<{ type: number; flags: number; at: number; status: number; data?: Record<string, unknown> }>;
  original?: FakeMessage;
  followUps: FakeMessage[];
  expired: boolean;
  attachmentSizeLimit: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorized: boolean;
  status: number;
  at: number;
}

export interface FakeDiscordOptions {
  token?: string;
  /** Shards `GET /gateway/bot` recommends (default 1). */
  shards?: number;
  heartbeatIntervalMs?: number;
  /** The upload limit of channel messages (default 10 MiB, an unboosted server). */
  channelUploadLimit?: number;
}

interface Where {
  guild?: boolean;
  channelId?: string;
}

interface SlashOption {
  name: string;
  type: number;
  value?: string | number | boolean;
  focused?: boolean;
  options?: SlashOption[];
}

export const OPTION = { subcommand: 1, string: 3, integer: 4, boolean: 5, attachment: 11 } as const;

const MiB = 1024 * 1024;

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message));
  }
}

const user = (id: string, username: string, bot = false): FakeUser => ({ id, username, global_name: username, discriminator: '0', avatar: null, ...(bot ? { bot } : {}) });

export async function startFakeDiscord(options: FakeDiscordOptions = {}) {
  const token = options.token ?? FAKE_BOT_TOKEN;
  const shardCount = options.shards ?? 1;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1_000;
  const channelUploadLimit = options.channelUploadLimit ?? 10 * MiB;

  const applicationId = snowflake();
  const bot = user(applicationId, 'Likeness', true);
  const guildId = snowflake();
  const channelId = snowflake();
  const otherChannelId = snowflake();

  const requests: RecordedRequest[] = [];
  const messages = new Map<string, FakeMessage>();
  const interactions = new Map<string, FakeInteraction>();
  const registrations: Array<{ scope: 'global' | 'guild'; guildId?: string; commands: Array<Record<string, unknown>> }> = [];
  const identifies: Array<{ shard: [number, number]; intents: number }> = [];
  const dmChannels = new Map<string, string>();
  const closedChannels = new Set<string>();
  const cdnFiles = new Map<string, { bytes: Buffer; contentType: string }>();
  const cdnRequests: string[] = [];
  const rateLimits: Array<{ method: string; path: RegExp; retryAfterMs: number; remaining: number }> = [];
  let heartbeats = 0;

  // ---------- gateway ----------
  const sockets = new Map<number, WebSocket>();
  const seqs = new Map<number, number>();
  const readyShards = new Set<number>();
  const readyWaiters: Array<() => void> = [];

  const shardOf = (guild?: string) => (guild ? Number((BigInt(guild) >> 22n) % BigInt(shardCount)) : 0);

  /** Dispatches for a shard that is reconnecting wait here, and are replayed when it resumes (as Discord does). */
  const pending = new Map<number, Array<{ t: string; d: unknown }>>();
  const sessions = new Map<string, number>();

  function send(shard: number, t: string, d: unknown): void {
    const socket = sockets.get(shard);
    if (!socket || socket.readyState !== socket.OPEN) {
      pending.set(shard, [...(pending.get(shard) ?? []), { t, d }]);
      return;
    }
    const s = (seqs.get(shard) ?? 0) + 1;
    seqs.set(shard, s);
    socket.send(JSON.stringify({ op: 0, t, s, d }));
  }

  function flush(shard: number): void {
    const waiting = pending.get(shard) ?? [];
    pending.delete(shard);
    for (const { t, d } of waiting) send(shard, t, d);
  }

  const guildCreate = () => ({
    id: guildId,
    name: 'Likeness test server',
    icon: null,
    owner_id: snowflake(),
    afk_timeout: 300,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    mfa_level: 0,
    premium_tier: 0,
    preferred_locale: 'en-US',
    nsfw_level: 0,
    features: [],
    roles: [{ id: guildId, name: '@everyone', color: 0, hoist: false, position: 0, permissions: '1071698660929', managed: false, mentionable: false, flags: 0 }],
    emojis: [],
    stickers: [],
    channels: [channelId, otherChannelId].map((id, i) => ({
      id,
      type: 0,
      guild_id: guildId,
      name: i === 0 ? 'portraits' : 'announcements',
      position: i,
      permission_overwrites: [],
      parent_id: null,
      nsfw: false,
      topic: null,
      last_message_id: null,
      rate_limit_per_user: 0,
    })),
    threads: [],
    members: [],
    voice_states: [],
    presences: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
    member_count: 3,
    large: false,
    unavailable: false,
    joined_at: new Date().toISOString(),
  });

  function onGatewayMessage(socket: WebSocket, raw: string): void {
    const payload = JSON.parse(raw) as { op: number; d: Record<string, unknown> | number | null };
    if (payload.op === 1) {
      heartbeats += 1;
      socket.send(JSON.stringify({ op: 11 }));
      return;
    }
    if (payload.op === 6) {
      const { session_id: sessionId } = payload.d as { session_id: string; seq: number };
      const shard = sessions.get(sessionId);
      if (shard === undefined) return void socket.send(JSON.stringify({ op: 9, d: false })); // unknown session: identify again
      sockets.set(shard, socket);
      send(shard, 'RESUMED', {});
      flush(shard);
      return;
    }
    if (payload.op !== 2) return;
    const d = payload.d as { token: string; intents: number; shard?: [number, number] };
    if (d.token !== token) return void socket.close(4004, 'Authentication failed.');
    const privileged = (1 << 1) | (1 << 8) | (1 << 15);
    if (d.intents & privileged) return void socket.close(4014, 'Disallowed intent(s).');
    const shard = d.shard ?? [0, 1];
    if (shard[1] !== shardCount) return void socket.close(4011, 'Sharding required.');
    identifies.push({ shard, intents: d.intents });
    sockets.set(shard[0], socket);
    seqs.set(shard[0], 0);
    const mine = shardOf(guildId) === shard[0];
    const sessionId = randomBytes(16).toString('hex');
    sessions.set(sessionId, shard[0]);
    send(shard[0], 'READY', {
      v: 10,
      user: { ...bot, verified: true, mfa_enabled: false, flags: 0 },
      guilds: mine ? [{ id: guildId, unavailable: true }] : [],
      session_id: sessionId,
      resume_gateway_url: `${gatewayUrl()}`,
      shard,
      application: { id: applicationId, flags: 0 },
    });
    if (mine) send(shard[0], 'GUILD_CREATE', guildCreate());
    flush(shard[0]);
    readyShards.add(shard[0]);
    if (readyShards.size === shardCount) for (const resolve of readyWaiters.splice(0)) resolve();
  }

  // ---------- REST ----------
  const json = (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
    if (status === 204 || body === undefined) {
      res.writeHead(status === 200 ? 204 : status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  async function readBody(req: IncomingMessage): Promise<{ json?: Record<string, unknown>; files: Array<{ key: string; name: string; bytes: Buffer }> }> {
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
      req.on('error', reject);
    });
    const type = req.headers['content-type'] ?? '';
    if (raw.length === 0) return { files: [] };
    if (type.startsWith('multipart/form-data')) {
      const form = await new Response(raw, { headers: { 'content-type': type } }).formData();
      const files: Array<{ key: string; name: string; bytes: Buffer }> = [];
      let body: Record<string, unknown> | undefined;
      for (const [key, value] of form.entries()) {
        if (key === 'payload_json' && typeof value === 'string') body = JSON.parse(value) as Record<string, unknown>;
        else if (typeof value !== 'string') files.push({ key, name: value.name, bytes: Buffer.from(await value.arrayBuffer()) });
      }
      return { json: body, files };
    }
    return { json: JSON.parse(raw.toString('utf8')) as Record<string, unknown>, files: [] };
  }

  function makeMessage(
    channel: string,
    body: Record<string, unknown> | undefined,
    files: Array<{ name: string; bytes: Buffer }>,
    via: FakeMessage['via'],
    limit: number,
  ): FakeMessage {
    const total = files.reduce((n, f) => n + f.bytes.length, 0);
    if (total > limit) throw new HttpFailure(413, { code: 40005, message: 'Request entity too large' });
    const id = snowflake();
    const attachments = files.map((f) => {
      const attachmentId = snowflake();
      const url = `${cdnBase()}/attachments/${channel}/${attachmentId}/${encodeURIComponent(f.name)}`;
      cdnFiles.set(new URL(url).pathname, { bytes: f.bytes, contentType: 'image/jpeg' });
      return { id: attachmentId, filename: f.name, size: f.bytes.length, url, proxy_url: url, content_type: 'image/jpeg' };
    });
    const message: FakeMessage = {
      id,
      channel_id: channel,
      guild_id: channel === channelId || channel === otherChannelId ? guildId : undefined,
      content: String(body?.content ?? ''),
      flags: Number(body?.flags ?? 0),
      components: (body?.components as unknown[]) ?? [],
      attachments,
      files: new Map(files.map((f) => [f.name, f.bytes])),
      author: bot,
      webhook_id: via.kind === 'channel' ? undefined : applicationId,
      via,
      reactions: [],
      deleted: false,
      edits: 0,
      history: [String(body?.content ?? '')],
      editedAt: [],
      allowedMentions: body?.allowed_mentions,
      createdAt: Date.now(),
    };
    messages.set(id, message);
    return message;
  }

  function editMessage(message: FakeMessage, body: Record<string, unknown> | undefined, files: Array<{ name: string; bytes: Buffer }>, limit: number): FakeMessage {
    if (message.deleted) throw new HttpFailure(404, { code: 10008, message: 'Unknown Message' });
    if (body && 'content' in body) {
      message.content = String(body.content ?? '');
      message.history.push(message.content);
      message.editedAt.push(performance.now());
    }
    if (body && 'components' in body) message.components = (body.components as unknown[]) ?? [];
    if (files.length > 0) {
      const fresh = makeMessage(message.channel_id, body, files, message.via, limit);
      messages.delete(fresh.id);
      message.attachments = fresh.attachments;
      message.files = fresh.files;
    }
    message.edits += 1;
    return message;
  }

  const wire = (m: FakeMessage) => ({
    id: m.id,
    type: 0,
    channel_id: m.channel_id,
    ...(m.guild_id ? { guild_id: m.guild_id } : {}),
    author: m.author,
    content: m.content,
    timestamp: new Date(m.createdAt).toISOString(),
    edited_timestamp: m.edits > 0 ? new Date().toISOString() : null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: m.attachments,
    embeds: [],
    components: m.components,
    pinned: false,
    flags: m.flags,
    ...(m.webhook_id ? { webhook_id: m.webhook_id, application_id: applicationId } : {}),
  });

  const byToken = new Map<string, FakeInteraction>();

  function interactionByToken(id: string | undefined, interactionToken: string): FakeInteraction {
    const found = byToken.get(interactionToken);
    if (!found || (id !== undefined && found.id !== id)) throw new HttpFailure(404, { code: 10062, message: 'Unknown interaction' });
    return found;
  }

  function webhookInteraction(app: string, interactionToken: string): FakeInteraction {
    if (app !== applicationId) throw new HttpFailure(404, { code: 10015, message: 'Unknown Webhook' });
    const found = byToken.get(interactionToken);
    if (!found) throw new HttpFailure(404, { code: 10015, message: 'Unknown Webhook' });
    if (found.expired) throw new HttpFailure(401, { code: 50027, message: 'Invalid Webhook Token' });
    return found;
  }

  function message(id: string | undefined): FakeMessage {
    const found = id ? messages.get(id) : undefined;
    if (!found || found.deleted) throw new HttpFailure(404, { code: 10008, message: 'Unknown Message' });
    return found;
  }

  function channelOpen(channel: string): void {
    if (closedChannels.has(channel)) throw new HttpFailure(403, { code: 50001, message: 'Missing Access' });
    const known = channel === channelId || channel === otherChannelId || [...dmChannels.values()].includes(channel);
    if (!known) throw new HttpFailure(404, { code: 10003, message: 'Unknown Channel' });
  }

  /** `at`: when the request arrived (its callbacks are timed from it, not from the end of its body). */
  async function route(req: IncomingMessage, res: ServerResponse, at: number): Promise<number> {
    const path = (req.url ?? '/').split('?')[0]!.replace(/^\/api\/v\d+/, '');
    const method = req.method ?? 'GET';
    const authorized = req.headers.authorization === `Bot ${token}`;
    const needsAuth = !/^\/(interactions|webhooks)\//.test(path);
    if (needsAuth && !authorized) return fail(res, 401, { code: 0, message: '401: Unauthorized' });

    const limited = rateLimits.find((r) => r.method === method && r.path.test(path) && r.remaining > 0);
    if (limited) {
      limited.remaining -= 1;
      const seconds = (limited.retryAfterMs / 1000).toFixed(3);
      json(res, 429, { message: 'You are being rate limited.', retry_after: Number(seconds), global: false }, {
        'retry-after': seconds,
        'x-ratelimit-limit': '5',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset-after': seconds,
        'x-ratelimit-bucket': 'fake-bucket',
        'x-ratelimit-scope': 'user',
      });
      return 429;
    }

    const { json: body, files } = await readBody(req);
    const parts = path.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
    const [head, a, b, c, d, e] = parts;

    if (method === 'GET' && path === '/gateway/bot') {
      json(res, 200, { url: gatewayUrl(), shards: shardCount, session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 16 } });
      return 200;
    }
    if (method === 'GET' && path === '/applications/@me') {
      json(res, 200, { id: applicationId, name: 'Likeness', bot, flags: 0 });
      return 200;
    }
    if (head === 'applications' && method === 'PUT' && (path.endsWith('/commands'))) {
      if (a !== applicationId) return fail(res, 404, { code: 10002, message: 'Unknown Application' });
      const commands = (body as unknown as Array<Record<string, unknown>>) ?? [];
      const scope = b === 'guilds' ? 'guild' : 'global';
      registrations.push({ scope, guildId: scope === 'guild' ? c : undefined, commands });
      json(res, 200, commands.map((command) => ({ ...command, id: snowflake(), application_id: applicationId, version: snowflake() })));
      return 200;
    }

    if (head === 'interactions' && c === 'callback' && method === 'POST') {
      const interaction = interactionByToken(a, b!);
      if (interaction.callbacks.some((x) => x.status === 204)) {
        interaction.callbacks.push({ type: Number(body?.type), flags: 0, at, status: 400, data: body?.data as Record<string, unknown> | undefined });
        return fail(res, 400, { code: 40060, message: 'Interaction has already been acknowledged.' });
      }
      const type = Number(body?.type);
      const data = (body?.data ?? {}) as Record<string, unknown>;
      interaction.callbacks.push({ type, flags: Number(data.flags ?? 0), at, status: 204, data });
      if (type === 4 || type === 5) {
        interaction.original = makeMessage(interaction.channelId, { ...data, content: type === 5 ? '' : data.content }, files, { kind: 'original', interactionId: interaction.id }, interaction.attachmentSizeLimit);
      }
      if (type === 7) {
        const target = (interaction.payload.message as { id: string } | undefined)?.id;
        if (target) editMessage(message(target), data, files, interaction.attachmentSizeLimit);
      }
      json(res, 204);
      return 204;
    }

    if (head === 'webhooks') {
      const interaction = webhookInteraction(a!, b!);
      if (method === 'POST' && parts.length === 3) {
        const created = makeMessage(interaction.channelId, body, files, { kind: 'followup', interactionId: interaction.id }, interaction.attachmentSizeLimit);
        interaction.followUps.push(created);
        json(res, 200, wire(created));
        return 200;
      }
      if (c === 'messages' && d) {
        // A component interaction's @original is the message the button is on.
        const componentMessage = (interaction.payload.message as { id: string } | undefined)?.id;
        const target = d === '@original' ? (interaction.type === 3 && !interaction.original ? componentMessage : interaction.original?.id) : d;
        if (method === 'PATCH') {
          const edited = editMessage(message(target), body, files, interaction.attachmentSizeLimit);
          json(res, 200, wire(edited));
          return 200;
        }
        if (method === 'DELETE') {
          message(target).deleted = true;
          json(res, 204);
          return 204;
        }
        if (method === 'GET') {
          json(res, 200, wire(message(target)));
          return 200;
        }
      }
    }

    if (head === 'channels' && a) {
      if (b === 'messages' && method === 'POST' && !c) {
        channelOpen(a);
        const created = makeMessage(a, body, files, { kind: 'channel' }, channelUploadLimit);
        json(res, 200, wire(created));
        return 200;
      }
      if (b === 'messages' && c && d === 'reactions' && e && method === 'PUT') {
        channelOpen(a);
        const target = message(c);
        target.reactions.push(e);
        json(res, 204);
        return 204;
      }
      if (b === 'messages' && c && !d && method === 'PATCH') {
        channelOpen(a);
        const target = message(c);
        if (target.via.kind !== 'channel') return fail(res, 403, { code: 50005, message: 'Cannot edit a message authored by another user' });
        json(res, 200, wire(editMessage(target, body, files, channelUploadLimit)));
        return 200;
      }
      if (b === 'messages' && c && !d && method === 'DELETE') {
        channelOpen(a);
        message(c).deleted = true;
        json(res, 204);
        return 204;
      }
    }

    if (path === '/users/@me/channels' && method === 'POST') {
      const recipient = String(body?.recipient_id ?? '');
      let dm = dmChannels.get(recipient);
      if (!dm) {
        dm = snowflake();
        dmChannels.set(recipient, dm);
      }
      json(res, 200, { id: dm, type: 1, recipients: [user(recipient, `user-${recipient.slice(-4)}`)], last_message_id: null });
      return 200;
    }

    return fail(res, 404, { code: 0, message: '404: Not Found' });
  }

  function fail(res: ServerResponse, status: number, body: Record<string, unknown>): number {
    json(res, status, body);
    return status;
  }

  const server: Server = createServer((req, res) => {
    const at = performance.now();
    route(req, res, at).then(
      (status) => requests.push({ method: req.method ?? 'GET', path: (req.url ?? '').split('?')[0]!, authorized: Boolean(req.headers.authorization), status, at }),
      (error: unknown) => {
        const status = error instanceof HttpFailure ? error.status : 500;
        requests.push({ method: req.method ?? 'GET', path: (req.url ?? '').split('?')[0]!, authorized: Boolean(req.headers.authorization), status, at });
        if (error instanceof HttpFailure) json(res, error.status, error.body);
        else json(res, 500, { code: 0, message: String(error) });
      },
    );
  });
  server.keepAliveTimeout = 30_000;
  const wss = new WebSocketServer({ server, path: '/gateway' });
  wss.on('connection', (socket) => {
    socket.send(JSON.stringify({ op: 10, d: { heartbeat_interval: heartbeatIntervalMs } }));
    socket.on('message', (data) => onGatewayMessage(socket, String(data)));
    socket.on('close', () => {
      for (const [shard, s] of sockets) if (s === socket) sockets.delete(shard);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const gatewayUrl = () => `ws://127.0.0.1:${port}/gateway`;

  // ---------- CDN ----------
  const cdn = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://cdn').pathname;
    cdnRequests.push(path);
    const file = cdnFiles.get(path);
    if (!file) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': file.contentType, 'content-length': file.bytes.length });
    res.end(file.bytes);
  });
  await new Promise<void>((resolve) => cdn.listen(0, '127.0.0.1', resolve));
  const cdnPort = (cdn.address() as AddressInfo).port;
  const cdnBase = () => `http://127.0.0.1:${cdnPort}`;

  // ---------- what tests drive ----------
  function member(u: FakeUser) {
    return { user: u, roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0, pending: false, permissions: '2248473465835073', nick: null, avatar: null };
  }

  function dispatchInteraction(type: number, data: Record<string, unknown>, from: FakeUser, where: Where, extra: Record<string, unknown> = {}, attachmentSizeLimit = 10 * MiB, hold = false): FakeInteraction {
    const id = snowflake();
    const interactionToken = Buffer.from(`interaction:${id}:${randomBytes(48).toString('base64url')}`).toString('base64url');
    const inGuild = where.guild !== false;
    const channel = inGuild ? (where.channelId ?? channelId) : dmChannelOf(from.id);
    const payload: Record<string, unknown> = {
      id,
      application_id: applicationId,
      type,
      token: interactionToken,
      version: 1,
      data,
      channel_id: channel,
      channel: inGuild ? { id: channel, type: 0, guild_id: guildId, name: 'portraits', nsfw: false, position: 0, permissions: '2248473465835073' } : { id: channel, type: 1, recipients: [from] },
      ...(inGuild ? { guild_id: guildId, member: member(from), guild_locale: 'en-US', context: 0, authorizing_integration_owners: { '0': guildId } } : { user: from, context: 1, authorizing_integration_owners: { '0': '0' } }),
      app_permissions: '2248473465835073',
      locale: 'en-US',
      entitlements: [],
      attachment_size_limit: attachmentSizeLimit,
      ...extra,
    };
    const interaction: FakeInteraction = {
      id,
      token: interactionToken,
      type,
      user: from,
      channelId: channel,
      guildId: inGuild ? guildId : undefined,
      payload,
      dispatchedAt: 0,
      callbacks: [],
      followUps: [],
      expired: false,
      attachmentSizeLimit,
    };
    interactions.set(id, interaction);
    byToken.set(interactionToken, interaction);
    if (hold) return interaction;
    interaction.dispatchedAt = performance.now();
    send(shardOf(interaction.guildId), 'INTERACTION_CREATE', payload);
    return interaction;
  }

  function dmChannelOf(userId: string): string {
    let dm = dmChannels.get(userId);
    if (!dm) {
      dm = snowflake();
      dmChannels.set(userId, dm);
    }
    return dm;
  }

  const users = new Map<string, FakeUser>();

  const fake = {
    token,
    applicationId,
    bot,
    guildId,
    channelId,
    otherChannelId,
    apiBase: `http://127.0.0.1:${port}/api`,
    /** `host:port` of the CDN, for ATTACHMENT_HOSTS. */
    cdnHost: `127.0.0.1:${cdnPort}`,
    requests,
    cdnRequests,
    messages,
    interactions,
    registrations,
    identifies,
    get heartbeats() {
      return heartbeats;
    },

    /** Resolves once every shard has identified and been sent READY (and its guild). */
    ready(): Promise<void> {
      if (readyShards.size === shardCount) return Promise.resolve();
      return new Promise((resolve) => readyWaiters.push(resolve));
    },

    /** A person, the same object for the same name. */
    user(name: string): FakeUser {
      let found = users.get(name);
      if (!found) {
        found = user(snowflake(), name);
        users.set(name, found);
      }
      return found;
    },

    /** Puts bytes on the CDN as an attachment someone uploaded with a command. */
    attachment(bytes: Buffer, filename = 'photo.jpg', contentType = 'image/jpeg', declaredSize = bytes.length): FakeAttachment {
      const id = snowflake();
      const url = `${cdnBase()}/attachments/${channelId}/${id}/${encodeURIComponent(filename)}`;
      cdnFiles.set(new URL(url).pathname, { bytes, contentType });
      return { id, filename, size: declaredSize, url: `${url}?ex=6800&is=6700&hm=abc123`, proxy_url: url, content_type: contentType };
    },

    /** A slash command, as INTERACTION_CREATE. `options` are the top-level options; attachments are resolved by id. */
    slash(
      name: string,
      options: SlashOption[],
      opts: { from: FakeUser; attachments?: FakeAttachment[]; where?: Where; attachmentSizeLimit?: number; hold?: boolean },
    ): FakeInteraction {
      const resolved = opts.attachments?.length ? { attachments: Object.fromEntries(opts.attachments.map((att) => [att.id, att])) } : undefined;
      return dispatchInteraction(2, { id: snowflake(), name, type: 1, options, ...(resolved ? { resolved } : {}) }, opts.from, opts.where ?? {}, {}, opts.attachmentSizeLimit, opts.hold);
    },

    /**
     * Sends interactions made with `hold: true` back to back, their frames serialized beforehand:
     * a burst as the bot sees it, with this side's cost down to the socket writes (for benchmarks).
     */
    release(held: FakeInteraction[]): void {
      const frames = held.map((i) => ({ interaction: i, shard: shardOf(i.guildId), d: JSON.stringify(i.payload) }));
      for (const { interaction, shard, d } of frames) {
        const socket = sockets.get(shard);
        if (!socket || socket.readyState !== socket.OPEN) throw new Error(`fake discord: shard ${shard} is not connected`);
        const seq = (seqs.get(shard) ?? 0) + 1;
        seqs.set(shard, seq);
        interaction.dispatchedAt = performance.now();
        socket.send(`{"op":0,"t":"INTERACTION_CREATE","s":${seq},"d":${d}}`);
      }
    },

    /** Autocomplete of a slash command option. */
    autocomplete(name: string, options: SlashOption[], from: FakeUser): FakeInteraction {
      return dispatchInteraction(4, { id: snowflake(), name, type: 1, options }, from, {});
    },

    /** The same INTERACTION_CREATE again (a gateway replay). */
    replay(interaction: FakeInteraction): void {
      send(shardOf(interaction.guildId), 'INTERACTION_CREATE', interaction.payload);
    },

    /** A button press on a message. */
    press(target: FakeMessage, customId: string, from: FakeUser, attachmentSizeLimit?: number): FakeInteraction {
      return dispatchInteraction(
        3,
        { custom_id: customId, component_type: 2 },
        from,
        { guild: Boolean(target.guild_id), channelId: target.channel_id },
        { message: wire(target) },
        attachmentSizeLimit,
      );
    },

    /** Someone adds a (unicode) reaction to a message. */
    react(target: FakeMessage, emoji: string, from: FakeUser): void {
      target.reactions.push(emoji);
      send(shardOf(target.guild_id), 'MESSAGE_REACTION_ADD', {
        user_id: from.id,
        channel_id: target.channel_id,
        message_id: target.id,
        ...(target.guild_id ? { guild_id: target.guild_id, member: member(from) } : {}),
        emoji: { id: null, name: emoji },
        burst: false,
        burst_colors: [],
        type: 0,
        message_author_id: bot.id,
      });
    },

    /** The interaction's token passes its 15 minutes: its webhook answers 401 from now on. */
    expire(interaction: FakeInteraction): void {
      interaction.expired = true;
    },

    /** The bot loses access to a channel (kicked, permissions removed). */
    closeChannel(id: string): void {
      closedChannels.add(id);
    },

    /** The next `times` requests matching answer 429 with Retry-After. */
    rateLimit(method: string, path: RegExp, retryAfterMs: number, times = 1): void {
      rateLimits.push({ method, path, retryAfterMs, remaining: times });
    },

    /** Messages in a channel (or DM), oldest first, deleted ones left out. */
    messagesIn(channel: string): FakeMessage[] {
      return [...messages.values()].filter((m) => m.channel_id === channel && !m.deleted);
    },

    dmChannelOf,

    /** Polls `check` until it returns something truthy. */
    async waitFor<T>(check: () => T | undefined | false | null, timeoutMs = 15_000, what = 'condition'): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = check();
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`fake discord: ${what} not met within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },

    /** Latency from dispatch to the first acknowledgement of each interaction (ms), for those acknowledged. */
    ackLatencies(): number[] {
      return [...interactions.values()].flatMap((i) => {
        const first = i.callbacks.find((c) => c.status === 204);
        return first ? [first.at - i.dispatchedAt] : [];
      });
    },

    async close(): Promise<void> {
      for (const socket of wss.clients) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      cdn.closeAllConnections();
      await Promise.all([new Promise<void>((r) => server.close(() => r())), new Promise<void>((r) => cdn.close(() => r()))]);
    },
  };
  return fake;
}

export type FakeDiscord = Awaited<ReturnType<typeof startFakeDiscord>>;
