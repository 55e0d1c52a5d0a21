/**
 * The Telegram and Discord front-ends' shared state in this process's memory, for tests: the same
 * contracts as their Redis implementations (src/bots/telegram/telegram-state.ts, discord-state.ts).
 */
import { createMemoryDeliverySteps } from '../../src/bots/core/delivery-steps.js';
import type { DiscordState, InteractionFacts } from '../../src/bots/discord/discord-state.js';
import type { AlbumPart, TelegramState } from '../../src/bots/telegram/telegram-state.js';

/** The same state in this process's memory: for tests and a single long-polling process. */
export function createMemoryTelegramState(): TelegramState {
  const seen = new Set<number>();
  const albums = new Map<string, AlbumPart[]>();
  const claimed = new Set<string>();
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
    ...createMemoryDeliverySteps(),
    async close() {},
  };
}

/** The same state in this process's memory, for unit tests. */
export function createMemoryDiscordState(now: () => number = Date.now): DiscordState {
  const interactions = new Map<string, { facts: Required<InteractionFacts>; tokenExpiresAt: number }>();
  return {
    async rememberInteraction(interactionId, facts, tokenExpiresAt) {
      interactions.set(interactionId, { facts: { ...facts }, tokenExpiresAt });
    },
    async interaction(interactionId) {
      const found = interactions.get(interactionId);
      if (!found) return undefined;
      const { token, ...rest } = found.facts;
      return found.tokenExpiresAt > now() ? { ...rest, token } : rest;
    },
    ...createMemoryDeliverySteps(),
  };
}
