import type { Client, GatewayMessageReactionAddDispatchData } from 'discord.js';
import type { RequestLife } from '../core/request-life.js';
import { messageKey, reactionIntent } from './discord-translation.js';

/**
 * A reaction on a message, read from the raw gateway event: it carries every id needed, and no
 * cache has to know the channel or the message (they may predate a restart). 1️⃣–4️⃣ (or ⭐ on a
 * one-image message) upscale, 🔄 and 👎 re-roll a portrait, ❌ deletes the message; what counts and
 * whose it is, the request life decides.
 */
export function createReactionHandler(deps: { life: RequestLife; client: Client }): (data: GatewayMessageReactionAddDispatchData) => Promise<void> {
  return async function onReaction(data) {
    if (data.user_id === deps.client.user?.id || data.member?.user.bot) return;
    const intent = reactionIntent(data.emoji.id ? undefined : data.emoji.name);
    if (!intent) return;
    await deps.life.react({
      // A reaction has no event id; this one repeats only if the same person adds the same emoji again.
      eventId: `reaction:${data.message_id}:${data.user_id}:${data.emoji.name ?? ''}`,
      user: { id: data.user_id, displayName: data.member?.user.global_name ?? data.member?.user.username },
      chatId: data.channel_id,
      messageId: data.message_id,
      messageKey: messageKey(data.message_id),
      intent,
    });
  };
}
