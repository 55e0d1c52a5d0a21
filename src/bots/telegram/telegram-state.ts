import type { Message } from 'grammy/types';
import type { createProducerConnection } from '../../jobs/redis.js';
import { setHashFieldDurably } from '../../jobs/keep-trying.js';

type Redis = ReturnType<typeof createProducerConnection>;

/** A photo request that met the terms card: what "I agree" needs to run it after all. */
export interface HeldRequest {
  /** The original event id: pressing "I agree" twice still makes one job. */
  eventId: string;
  /** The message that carried the command (its caption or text). */
  message: Message;
  /** The messages whose photos it uses (the album, or the message itself). */
  photos: Message[];
}

/** One message of an album (messages sharing a `media_group_id`), as received. */
export interface AlbumPart {
  updateId: number;
  message: Message;
}

/**
 * The little the Telegram front-end must share between processes (webhook mode behind a load
 * balancer spreads one chat's updates over several): which updates were handled, the parts of
 * albums being gathered, and which steps of a delivery are done. Everything expires by itself.
 */
export interface TelegramState {
  /** True the first time an update id is seen (for a day); a redelivered update gets false. */
  firstSeen(updateId: number): Promise<boolean>;
  /** Lets an update that failed be handled again when Telegram redelivers it. */
  unsee(updateId: number): Promise<void>;
  /** Adds a part to an album; returns how many parts it has now. */
  addAlbumPart(albumKey: string, part: AlbumPart): Promise<number>;
  albumSize(albumKey: string): Promise<number>;
  /** True for exactly one caller per album: the one that turns it into a request. */
  claimAlbum(albumKey: string): Promise<boolean>;
  albumParts(albumKey: string): Promise<AlbumPart[]>;
  /** Steps of a job's delivery already done (e.g. `media` → message ids), so a retried delivery resumes instead of repeating. */
  deliverySteps(jobId: string): Promise<Record<string, string>>;
  recordDeliveryStep(jobId: string, step: string, value: string): Promise<void>;
  /** Drops a delivered job's steps. */
  forgetDeliverySteps(jobId: string): Promise<void>;
  /** Keeps a request that waited for the terms, for a while; a newer one replaces it. */
  holdForConsent(userId: string, held: HeldRequest): Promise<void>;
  /** The request that waited for this user's consent, handed out once. */
  takeHeldForConsent(userId: string): Promise<HeldRequest | undefined>;
  close(): Promise<void>;
}

const DAY_S = 24 * 3600;
const ALBUM_TTL_MS = 10 * 60 * 1000;
const HELD_TTL_S = 15 * 60;

/** The shared state in Redis, every key under `namespace` (e.g. `likeness:tg:<bot id>`). */
export function createRedisTelegramState(redis: Redis, namespace: string): TelegramState {
  const key = (...parts: (string | number)[]) => [namespace, ...parts].join(':');
  return {
    async firstSeen(updateId) {
      return (await redis.set(key('update', updateId), '1', 'EX', DAY_S, 'NX')) === 'OK';
    },
    async unsee(updateId) {
      await redis.del(key('update', updateId));
    },
    async addAlbumPart(albumKey, part) {
      const list = key('album', albumKey);
      const result = await redis.multi().rpush(list, JSON.stringify(part)).pexpire(list, ALBUM_TTL_MS).exec();
      const [error, length] = result?.[0] ?? [new Error('album part not stored')];
      if (error) throw error;
      return Number(length);
    },
    albumSize: (albumKey) => redis.llen(key('album', albumKey)),
    async claimAlbum(albumKey) {
      return (await redis.set(key('album', albumKey, 'claimed'), '1', 'PX', ALBUM_TTL_MS, 'NX')) === 'OK';
    },
    async albumParts(albumKey) {
      return (await redis.lrange(key('album', albumKey), 0, -1)).map((raw) => JSON.parse(raw) as AlbumPart);
    },
    deliverySteps: (jobId) => redis.hgetall(key('delivery', jobId)),
    async recordDeliveryStep(jobId, step, value) {
      const hash = key('delivery', jobId);
      // The message is already out: losing this record to a Redis blip would send it twice on retry.
      await setHashFieldDurably(redis, hash, step, value, DAY_S);
    },
    async forgetDeliverySteps(jobId) {
      await redis.del(key('delivery', jobId));
    },
    async holdForConsent(userId, held) {
      await redis.set(key('held', userId), JSON.stringify(held), 'EX', HELD_TTL_S);
    },
    async takeHeldForConsent(userId) {
      const raw = await redis.getdel(key('held', userId));
      return raw ? (JSON.parse(raw) as HeldRequest) : undefined;
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** The same state in this process's memory: for tests and a single long-polling process. */
export function createMemoryTelegramState(): TelegramState {
  const seen = new Set<number>();
  const albums = new Map<string, AlbumPart[]>();
  const claimed = new Set<string>();
  const steps = new Map<string, Record<string, string>>();
  const held = new Map<string, HeldRequest>();
  return {
    async firstSeen(updateId) {
      if (seen.has(updateId)) return false;
      seen.add(updateId);
      return true;
    },
    async unsee(updateId) {
      seen.delete(updateId);
    },
    async addAlbumPart(albumKey, part) {
      const parts = albums.get(albumKey) ?? [];
      parts.push(structuredClone(part));
      albums.set(albumKey, parts);
      return parts.length;
    },
    albumSize: async (albumKey) => albums.get(albumKey)?.length ?? 0,
    async claimAlbum(albumKey) {
      if (claimed.has(albumKey)) return false;
      claimed.add(albumKey);
      return true;
    },
    albumParts: async (albumKey) => albums.get(albumKey) ?? [],
    deliverySteps: async (jobId) => ({ ...steps.get(jobId) }),
    async recordDeliveryStep(jobId, step, value) {
      steps.set(jobId, { ...steps.get(jobId), [step]: value });
    },
    async forgetDeliverySteps(jobId) {
      steps.delete(jobId);
    },
    async holdForConsent(userId, request) {
      held.set(userId, structuredClone(request));
    },
    async takeHeldForConsent(userId) {
      const request = held.get(userId);
      held.delete(userId);
      return request;
    },
    async close() {},
  };
}
