import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../logger.js';
import type { AlbumPart, TelegramState } from './telegram-state.js';

/** Turns the separately delivered messages of one album into one call of `onAlbum`. */
export interface AlbumGatherer {
  /** Records a part and returns at once; the album is handled once no part arrived for the quiet window. */
  add(albumKey: string, part: AlbumPart): Promise<void>;
  /** Waits for the albums being gathered to be handled (at shutdown). */
  drain(): Promise<void>;
}

export interface AlbumGathererDeps {
  state: Pick<TelegramState, 'addAlbumPart' | 'albumSize' | 'claimAlbum' | 'albumParts'>;
  /** How long after the latest part an album counts as complete. Telegram sends an album's parts within moments of each other. */
  quietMs: number;
  /** Gets the album's distinct parts in message order, exactly once per album. */
  onAlbum(parts: AlbumPart[]): Promise<void>;
  logger: Logger;
}

/**
 * Gathers an album's parts in shared state: every part waits out the quiet window, and only the
 * latest one (no part came after it) claims the album and hands it on. Parts may arrive in
 * different processes; the claim makes sure one of them, once, makes the request. `add` never
 * waits for the window, so it does not hold up the other updates of its chat.
 */
export function createAlbumGatherer(deps: AlbumGathererDeps): AlbumGatherer {
  const pending = new Set<Promise<void>>();

  async function settle(albumKey: string, sizeAfterMine: number): Promise<void> {
    await sleep(deps.quietMs);
    if ((await deps.state.albumSize(albumKey)) !== sizeAfterMine) return; // a later part will settle it
    if (!(await deps.state.claimAlbum(albumKey))) return;
    const byMessage = new Map<number, AlbumPart>();
    for (const part of await deps.state.albumParts(albumKey)) byMessage.set(part.message.message_id, part);
    await deps.onAlbum([...byMessage.values()].sort((a, b) => a.message.message_id - b.message.message_id));
  }

  return {
    async add(albumKey, part) {
      const size = await deps.state.addAlbumPart(albumKey, part);
      const task = settle(albumKey, size).catch((error: unknown) => deps.logger.error({ err: error, albumKey }, 'could not handle an album'));
      pending.add(task);
      void task.finally(() => pending.delete(task));
    },
    async drain() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}
