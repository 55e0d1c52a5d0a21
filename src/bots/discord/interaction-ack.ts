import {
  ApplicationCommandType,
  ComponentType,
  GatewayDispatchEvents,
  InteractionResponseType,
  InteractionType,
  MessageFlags,
  type APIInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Client,
} from 'discord.js';
import type { Logger } from '../../logger.js';
import { decidePress, type ButtonPress } from '../core/button-data.js';
import type { IntakeGate } from '../core/intake-gate.js';
import { safeDiscordError } from './discord-errors.js';
import { CUSTOM_ID } from './discord-translation.js';
import type { InteractionCallbackPoster } from './interaction-callback.js';

/** How an interaction is acknowledged, decided from what it is alone (no lookup, no I/O). */
export type AckPlan =
  /** "Thinking…", only the person sees it; the answer edits it later. */
  | { kind: 'defer-reply' }
  /** The message the button sits on is edited later (the terms, "delete everything?"). */
  | { kind: 'defer-update' }
  /** An ephemeral notice that is the whole answer (someone else's button, a stale button). */
  | { kind: 'notice'; content: string };

/** A slash command is always deferred, ephemerally. */
export const SLASH_ACK: AckPlan = { kind: 'defer-reply' };

/**
 * A button press: someone else's button (or one we cannot read) gets a notice only the presser
 * sees; the terms and "delete everything?" are answered in place; other work gets its own status
 * message.
 */
export function buttonAck(customId: string, presserId: string): { plan: AckPlan; press?: ButtonPress } {
  const decision = decidePress(customId, presserId, CUSTOM_ID);
  if (decision.kind === 'notice') return { plan: { kind: 'notice', content: decision.text }, press: decision.press };
  return { plan: { kind: decision.kind === 'in-place' ? 'defer-update' : 'defer-reply' }, press: decision.press };
}

/** The plan for a raw gateway interaction; undefined for what is not acknowledged ahead (autocomplete, menus, modals). */
export function ackPlanForPayload(payload: APIInteraction): AckPlan | undefined {
  if (payload.type === InteractionType.ApplicationCommand && payload.data.type === ApplicationCommandType.ChatInput) return SLASH_ACK;
  if (payload.type === InteractionType.MessageComponent && payload.data.component_type === ComponentType.Button) {
    const presser = payload.member?.user.id ?? payload.user?.id ?? '';
    return buttonAck(payload.data.custom_id, presser).plan;
  }
  return undefined;
}

/** The callback body Discord takes for a plan. */
export function callbackBody(plan: AckPlan): unknown {
  switch (plan.kind) {
    case 'defer-reply':
      return { type: InteractionResponseType.DeferredChannelMessageWithSource, data: { flags: MessageFlags.Ephemeral } };
    case 'defer-update':
      return { type: InteractionResponseType.DeferredMessageUpdate };
    case 'notice':
      return { type: InteractionResponseType.ChannelMessageWithSource, data: { content: plan.content, flags: MessageFlags.Ephemeral, allowed_mentions: { parse: [] } } };
  }
}

type Acknowledgeable = ChatInputCommandInteraction | ButtonInteraction;

/** What discord.js itself records after acknowledging with `plan`, so its later `editReply` works. */
function markAcknowledged(interaction: Acknowledgeable, plan: AckPlan): void {
  if (plan.kind === 'notice') {
    interaction.replied = true;
    interaction.ephemeral = true;
  } else {
    interaction.deferred = true;
    if (plan.kind === 'defer-reply') interaction.ephemeral = true;
  }
}

/** The same acknowledgement through discord.js (when the raw packet was not seen first). */
function acknowledgeThroughDiscordJs(interaction: Acknowledgeable, plan: AckPlan): Promise<unknown> {
  if (plan.kind === 'defer-reply') return interaction.deferReply({ flags: MessageFlags.Ephemeral });
  if (plan.kind === 'notice') return interaction.reply({ content: plan.content, flags: MessageFlags.Ephemeral });
  if (interaction.isButton()) return interaction.deferUpdate();
  return interaction.deferReply({ flags: MessageFlags.Ephemeral });
}

export interface InteractionAcknowledgerDeps {
  client: Client;
  poster: InteractionCallbackPoster;
  ackFirst: IntakeGate;
  logger: Logger;
  /** False while the front-end stops: nothing new is acknowledged then. */
  accepting: () => boolean;
}

/** Acknowledges interactions from the raw gateway packet, ahead of discord.js. */
export interface InteractionAcknowledger {
  /**
   * The acknowledgement of this interaction with `plan`: the one already sent from its raw
   * packet when there was one (discord.js is then told it is deferred or replied), else sent now
   * through discord.js. Either way exactly one callback per dispatch, counted by `ackFirst`.
   */
  acknowledge(interaction: Acknowledgeable, plan: AckPlan): Promise<unknown>;
}

/** Unclaimed early acknowledgements (discord.js never emitted their interaction) are forgotten after this. */
const FORGET_AFTER_MS = 30_000;

/**
 * Acknowledges each slash command and button press the moment its INTERACTION_CREATE packet is
 * read, before discord.js builds its objects (which, over a burst of hundreds, costs more than the
 * acknowledgements themselves), with one direct callback request. The plan comes from the
 * payload alone, by the same rules the handlers follow ({@link SLASH_ACK}, {@link buttonAck}).
 */
export function createInteractionAcknowledger(deps: InteractionAcknowledgerDeps): InteractionAcknowledger {
  const { client, poster, ackFirst, logger } = deps;
  const early = new Map<string, { plan: AckPlan; sent: Promise<void> }>();

  client.ws.on(GatewayDispatchEvents.InteractionCreate, (payload: APIInteraction) => {
    if (!deps.accepting()) return;
    const plan = ackPlanForPayload(payload);
    if (!plan) return;
    const sent = ackFirst.acknowledging(poster.post(payload.id, payload.token, callbackBody(plan)));
    const entry = { plan, sent };
    early.set(payload.id, entry);
    const forget = () => {
      setTimeout(() => {
        if (early.get(payload.id) === entry) early.delete(payload.id);
      }, FORGET_AFTER_MS).unref();
    };
    sent.then(forget, (error: unknown) => {
      forget();
      logger.debug({ err: safeDiscordError(error), interactionId: payload.id }, 'early acknowledgement refused');
    });
  });

  return {
    acknowledge(interaction, plan) {
      const entry = early.get(interaction.id);
      if (!entry) return ackFirst.acknowledging(acknowledgeThroughDiscordJs(interaction, plan));
      early.delete(interaction.id);
      return entry.sent.then(() => markAcknowledged(interaction, entry.plan));
    },
  };
}
