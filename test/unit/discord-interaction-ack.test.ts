import { EventEmitter } from 'node:events';
import type { APIInteraction, Client } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { messageFor } from '../../src/bots/core/messages.js';
import { createIntakeGate as createAckFirst } from '../../src/bots/core/intake-gate.js';
import { DiscordRequestError, isStaleInteraction } from '../../src/bots/discord/discord-errors.js';
import { encodeCustomId } from '../../src/bots/discord/discord-translation.js';
import { ackPlanForPayload, buttonAck, callbackBody, createInteractionAcknowledger, SLASH_ACK } from '../../src/bots/discord/interaction-ack.js';
import type { InteractionCallbackPoster } from '../../src/bots/discord/interaction-callback.js';
import { createLogger } from '../../src/logger.js';

const OWNER = '111111111111111111';
const OTHER = '222222222222222222';

const slash = (id: string, commandType = 1) =>
  ({ id, token: `token-${id}`, type: 2, data: { id: '9', name: 'portrait', type: commandType }, member: { user: { id: OWNER } } }) as unknown as APIInteraction;
const button = (id: string, customId: string, presser: string, inGuild = true) =>
  ({ id, token: `token-${id}`, type: 3, data: { custom_id: customId, component_type: 2 }, ...(inGuild ? { member: { user: { id: presser } } } : { user: { id: presser } }) }) as unknown as APIInteraction;

describe('acknowledgement plans', () => {
  it('defers slash commands and the requester’s own buttons, answers the terms in place, and tells others off', () => {
    expect(ackPlanForPayload(slash('1'))).toEqual({ kind: 'defer-reply' });
    const upscale = encodeCustomId({ command: 'upscale', target: 'r1' }, OWNER);
    expect(ackPlanForPayload(button('2', upscale, OWNER))).toEqual({ kind: 'defer-reply' });
    expect(ackPlanForPayload(button('3', upscale, OTHER, false))).toEqual({ kind: 'notice', content: messageFor('NOT_YOURS') });
    const consent = encodeCustomId({ command: 'consent' });
    expect(ackPlanForPayload(button('4', consent, OTHER))).toEqual({ kind: 'defer-update' });
    expect(ackPlanForPayload(button('5', encodeCustomId({ command: 'forget' }, OWNER), OWNER))).toEqual({ kind: 'defer-update' });
    expect(ackPlanForPayload(button('6', 'something-else', OWNER))).toMatchObject({ kind: 'notice', content: expect.stringContaining('no longer works') });
    // The same rules the handlers follow, with the press they act on.
    expect(buttonAck(upscale, OWNER)).toEqual({ plan: { kind: 'defer-reply' }, press: { command: 'upscale', target: 'r1', owner: OWNER } });
  });

  it('leaves alone what is not acknowledged ahead: context menus, autocomplete, select menus, modals', () => {
    expect(ackPlanForPayload(slash('1', 2))).toBeUndefined();
    expect(ackPlanForPayload({ ...slash('2'), type: 4 } as unknown as APIInteraction)).toBeUndefined();
    expect(ackPlanForPayload({ id: '3', token: 't', type: 3, data: { custom_id: 'x', component_type: 3, values: [] } } as unknown as APIInteraction)).toBeUndefined();
    expect(ackPlanForPayload({ id: '4', token: 't', type: 5, data: { custom_id: 'x', components: [] } } as unknown as APIInteraction)).toBeUndefined();
  });

  it('turns a plan into the callback Discord takes', () => {
    expect(callbackBody(SLASH_ACK)).toEqual({ type: 5, data: { flags: 64 } });
    expect(callbackBody({ kind: 'defer-update' })).toEqual({ type: 6 });
    expect(callbackBody({ kind: 'notice', content: 'not yours' })).toEqual({ type: 4, data: { content: 'not yours', flags: 64, allowed_mentions: { parse: [] } } });
  });
});

describe('the early acknowledger', () => {
  /** A gateway client as far as the acknowledger sees one: raw dispatches on `ws`. */
  function setUp(options: { accepting?: () => boolean; refuse?: boolean } = {}) {
    const ws = new EventEmitter();
    const posted: Array<{ id: string; token: string; body: unknown }> = [];
    const poster: InteractionCallbackPoster = {
      post(id, token, body) {
        posted.push({ id, token, body });
        return options.refuse ? Promise.reject(new DiscordRequestError('Discord said 400 (40060)', 400, 40060, 'POST', undefined)) : Promise.resolve();
      },
      close() {},
    };
    const ackFirst = createAckFirst();
    const acknowledger = createInteractionAcknowledger({
      client: { ws } as unknown as Client,
      poster,
      ackFirst,
      logger: createLogger({ level: 'silent' }),
      accepting: options.accepting ?? (() => true),
    });
    /** What discord.js would build, with the methods the fallback calls recorded. */
    const interaction = (id: string) => {
      const calls: string[] = [];
      const made = {
        id,
        deferred: false,
        replied: false,
        ephemeral: null as boolean | null,
        isButton: () => false,
        deferReply: async () => void calls.push('deferReply'),
        reply: async () => void calls.push('reply'),
        deferUpdate: async () => void calls.push('deferUpdate'),
      };
      return { made, calls, asInteraction: made as unknown as Parameters<typeof acknowledger.acknowledge>[0] };
    };
    return { ws, posted, ackFirst, acknowledger, interaction };
  }

  it('acknowledges from the raw packet once, and tells discord.js the interaction is deferred', async () => {
    const { ws, posted, ackFirst, acknowledger, interaction } = setUp();
    ws.emit('INTERACTION_CREATE', slash('10'));
    expect(posted).toEqual([{ id: '10', token: 'token-10', body: { type: 5, data: { flags: 64 } } }]);
    expect(ackFirst.stats.acknowledging).toBe(1); // counted while in flight: work waits for it

    const { made, calls, asInteraction } = interaction('10');
    await acknowledger.acknowledge(asInteraction, SLASH_ACK);
    expect(calls).toEqual([]); // discord.js sent nothing itself
    expect(made).toMatchObject({ deferred: true, ephemeral: true, replied: false });
    expect(posted).toHaveLength(1);
    expect(ackFirst.stats.acknowledging).toBe(0);
  });

  it('marks a notice as replied, and an in-place answer as deferred without making it ephemeral', async () => {
    const { ws, acknowledger, interaction } = setUp();
    const notice = { kind: 'notice', content: 'not yours' } as const;
    ws.emit('INTERACTION_CREATE', button('11', encodeCustomId({ command: 'upscale', target: 'r' }, OWNER), OTHER));
    const pressed = interaction('11');
    await acknowledger.acknowledge(pressed.asInteraction, notice);
    expect(pressed.made).toMatchObject({ replied: true, ephemeral: true, deferred: false });

    ws.emit('INTERACTION_CREATE', button('12', encodeCustomId({ command: 'consent' }), OWNER));
    const consent = interaction('12');
    await acknowledger.acknowledge(consent.asInteraction, { kind: 'defer-update' });
    expect(consent.made).toMatchObject({ deferred: true, ephemeral: null });
  });

  it('falls back to discord.js when no raw packet was seen, and sends nothing while stopping', async () => {
    let accepting = true;
    const { ws, posted, acknowledger, interaction } = setUp({ accepting: () => accepting });
    const unseen = interaction('20');
    await acknowledger.acknowledge(unseen.asInteraction, SLASH_ACK);
    expect(unseen.calls).toEqual(['deferReply']);
    const notice = interaction('21');
    await acknowledger.acknowledge(notice.asInteraction, { kind: 'notice', content: 'no' });
    expect(notice.calls).toEqual(['reply']);

    accepting = false;
    ws.emit('INTERACTION_CREATE', slash('22'));
    expect(posted).toEqual([]);
  });

  it('passes Discord’s refusal (a replay) on to the handler as a stale interaction', async () => {
    const { ws, acknowledger, interaction } = setUp({ refuse: true });
    ws.emit('INTERACTION_CREATE', slash('30'));
    const replayed = interaction('30');
    const outcome = await acknowledger.acknowledge(replayed.asInteraction, SLASH_ACK).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isStaleInteraction(outcome)).toBe(true);
    expect(replayed.made.deferred).toBe(false);
  });
});
