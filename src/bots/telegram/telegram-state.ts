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
  /**
   * True the first time an update id is seen; a redelivered update gets false, and so does a
   * replay of one older than Telegram's 24 h redelivery window, however late it comes.
   */
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

const HOUR_MS = 3600 * 1000;
const ALBUM_TTL_MS = 10 * 60 * 1000;

/**
 * Redelivery, and replays after it. Telegram redelivers an update for up to 24 h; a proxy or an
 * attacker holding a copy of the webhook (with its secret) can post it again any time later.
 * Remembering every id forever is unbounded, and one high-water mark alone drops legitimate
 * redeliveries: webhook updates arrive in parallel and out of order, and a failed one comes back
 * after later ones were handled. So two records, per bot:
 * - each id handled, for SEEN_HOURS (26 h: Telegram's 24 h plus the hour buckets' slack);
 * - per hour, the highest id handled in it, kept for MARK_HOURS (7 days). Ids grow with time, so an
 *   id at or below the highest one handled at least SETTLE_HOURS (25 h: 24 h plus a bucket) ago is
 *   older than Telegram's window: nothing legitimate can bring it any more, it is dropped.
 * Marks last 7 days because Telegram picks a random next id after a week without updates; older
 * marks could then drop real updates. (A replay more than 7 days old reaching a bot that was silent
 * all week is the one case left to the jobs' idempotency keys.) Hours come from this process's
 * clock; the processes' clocks need only agree to within the buckets' slack.
 */
const SEEN_HOURS = 26;
const SETTLE_HOURS = 25;
const MARK_HOURS = 7 * 24;

/** KEYS: the update's seen key, the marks hash (hour → highest id). ARGV: id, hour, SETTLE_HOURS, MARK_HOURS, seen TTL s. */
const FIRST_SEEN_SCRIPT = `
local id, hour = tonumber(ARGV[1]), tonumber(ARGV[2])
local settleHours, markHours = tonumber(ARGV[3]), tonumber(ARGV[4])
local settled = nil
local marks = redis.call('HGETALL', KEYS[2])
for i = 1, #marks, 2 do
  local h, top = tonumber(marks[i]), tonumber(marks[i + 1])
  if h <= hour - markHours then redis.call('HDEL', KEYS[2], marks[i])
  elseif h <= hour - settleHours and (settled == nil or top > settled) then settled = top end
end
if settled ~= nil and id <= settled then return 0 end
if not redis.call('SET', KEYS[1], '1', 'EX', ARGV[5], 'NX') then return 0 end
local top = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '-1')
if id > top then redis.call('HSET', KEYS[2], ARGV[2], ARGV[1]) end
redis.call('EXPIRE', KEYS[2], markHours * 3600)
return 1`;

/** Knobs for tests. */
export interface TelegramStateOptions {
  /** The clock the redelivery window is measured by (default `Date.now`). */
  now?: () => number;
}

/** The shared state in Redis, every key under `namespace` (e.g. `likeness:tg:<bot id>`). */
export function createRedisTelegramState(redis: Redis, namespace: string, options: TelegramStateOptions = {}): TelegramState {
  const key = (...parts: (string | number)[]) => [namespace, ...parts].join(':');
  const now = options.now ?? Date.now;
  return {
    async firstSeen(updateId) {
      const hour = Math.floor(now() / HOUR_MS);
      const args = [updateId, hour, SETTLE_HOURS, MARK_HOURS, SEEN_HOURS * 3600];
      return (await redis.eval(FIRST_SEEN_SCRIPT, 2, key('update', updateId), key('update-marks'), ...args)) === 1;
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
