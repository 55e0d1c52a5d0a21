import type { Message } from 'grammy/types';
import type { createProducerConnection } from '../../jobs/redis.js';
import { createRedisDeliverySteps, type DeliverySteps } from '../core/delivery-steps.js';

type Redis = ReturnType<typeof createProducerConnection>;

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
export interface TelegramState extends DeliverySteps {
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
  close(): Promise<void>;
}

const DAY_S = 24 * 3600;
const ALBUM_TTL_MS = 10 * 60 * 1000;

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
    ...createRedisDeliverySteps(redis, key),
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
