import {
  MessageFlags,
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
} from 'discord.js';
import type { App } from '../../app.js';
import type { Logger } from '../../logger.js';
import { COMMAND_CATALOG } from '../core/command-catalog.js';
import { messageFor } from '../core/messages.js';
import type { CommandName, PhotoSource, Request } from '../core/request.js';
import { discordPhotoSource, type AttachmentPolicy } from './attachments.js';
import type { DiscordState, HeldRequest } from './discord-state.js';
import { safeDiscordError } from './discord-errors.js';
import { optionsFromSlash, SLASH_COMMANDS } from './discord-translation.js';
import { buttonAck, SLASH_ACK, type InteractionAcknowledger } from './interaction-ack.js';
import { conversationOf, lazyChild, userOf, type InteractionAnswer } from './interaction-answer.js';
import { photoOptionNames, styleSuggestions } from './slash-commands.js';

/** The option names that carry photos, per command (`photo1`…`photo4`, `photo`). */
const PHOTO_OPTIONS: ReadonlyMap<CommandName, string[]> = new Map(
  COMMAND_CATALOG.map((entry) => [entry.command, entry.options.filter((o) => o.kind === 'photos').flatMap((o) => photoOptionNames(o))]),
);

export interface InteractionHandlerDeps {
  app: Pick<App, 'styles'>;
  acknowledger: InteractionAcknowledger;
  answering: InteractionAnswer;
  policy: AttachmentPolicy;
  /** Where a first photo request waits while its person reads the terms. */
  held: Pick<DiscordState, 'holdForConsent' | 'takeHeldForConsent'>;
  logger: Logger;
}

/**
 * Routes an interaction: slash commands and buttons are acknowledged (deferred, ephemerally; most
 * often already from their raw packet, see interaction-ack.ts) before anything is awaited, then
 * answered through `answering`; someone else's button gets a notice only the presser sees;
 * autocomplete suggests styles. Never rejects: failures are logged.
 */
export function createInteractionHandler(deps: InteractionHandlerDeps): (interaction: Interaction) => Promise<void> {
  const { app, acknowledger, answering, policy, held, logger } = deps;

  /** A held request as the command layer takes it, answered through `interaction` (the "I agree" press). */
  function requestFromHeld(interaction: ButtonInteraction, request: HeldRequest): Request {
    const photos = request.attachments.map((a) => discordPhotoSource({ url: a.url, size: a.size, name: a.name }, a.label, policy));
    return {
      platform: 'discord',
      eventId: request.eventId,
      user: userOf(interaction),
      conversation: conversationOf(interaction, request.private),
      command: request.command,
      ...(photos.length > 0 ? { photos } : {}),
      options: request.options,
    };
  }

  async function onSlash(interaction: ChatInputCommandInteraction): Promise<void> {
    const started = performance.now();
    // Acknowledge first, before any awaited I/O: Discord forgets an interaction not answered within 3 s.
    const ack = acknowledger.acknowledge(interaction, SLASH_ACK);
    const log = lazyChild(logger, () => ({ interactionId: interaction.id, command: interaction.commandName }));
    if (!(await answering.acknowledged(ack, log, started))) return;
    const command = SLASH_COMMANDS.get(interaction.commandName);
    if (!command) {
      await interaction.editReply({ content: messageFor('UNKNOWN_COMMAND') }).catch(() => undefined);
      return;
    }
    const options = optionsFromSlash(command, interaction.options.data);
    const attachments = (PHOTO_OPTIONS.get(command) ?? []).flatMap((name) => {
      const attachment = interaction.options.getAttachment(name);
      return attachment ? [{ url: attachment.url, size: attachment.size, name: attachment.name, label: attachment.name || name }] : [];
    });
    const photos: PhotoSource[] = attachments.map((a) => discordPhotoSource({ url: a.url, size: a.size, name: a.name }, a.label, policy));
    const request: Request = {
      platform: 'discord',
      eventId: interaction.id,
      user: userOf(interaction),
      conversation: conversationOf(interaction, options.subject === 'memorial'),
      command,
      ...(photos.length > 0 ? { photos } : {}),
      options,
    };
    const reply = await answering.answer(interaction, request, log);
    // A first-time user met the terms card: once they agree, this request runs without being sent again.
    if (reply?.code === 'CONSENT_REQUIRED' && attachments.length > 0 && (command === 'portrait' || command === 'restore')) {
      await held
        .holdForConsent(interaction.user.id, { eventId: interaction.id, command, options, attachments, private: request.conversation.private ?? false })
        .catch((error: unknown) => log().warn({ err: safeDiscordError(error) }, 'could not keep the request for after the terms'));
    }
  }

  async function onButton(interaction: ButtonInteraction): Promise<void> {
    const started = performance.now();
    // Someone else's button: a notice only the presser sees, straight away and without a lookup.
    // The terms and "delete everything?" are answered in place; work gets its own status message.
    const { plan, press } = buttonAck(interaction.customId, interaction.user.id);
    const ack = acknowledger.acknowledge(interaction, plan);
    const log = lazyChild(logger, () => ({ interactionId: interaction.id, button: press?.command }));
    if (!(await answering.acknowledged(ack, log, started)) || plan.kind === 'notice' || !press) return;
    const request: Request = {
      platform: 'discord',
      eventId: interaction.id,
      user: userOf(interaction),
      // A button on a private (ephemeral) result keeps what it makes private too.
      conversation: conversationOf(interaction, interaction.message.flags.has(MessageFlags.Ephemeral)),
      command: press.command,
      ...(press.target ? { target: press.target } : {}),
    };
    const reply = await answering.answer(interaction, request, log);
    if (press.command !== 'consent' || !reply || reply.tone === 'error') return;
    // The photo request that waited for the terms: its status replaces the "thank you" in place.
    const waiting = await held.takeHeldForConsent(interaction.user.id).catch(() => undefined);
    if (waiting) await answering.answer(interaction, requestFromHeld(interaction, waiting), log);
  }

  async function onAutocomplete(interaction: AutocompleteInteraction): Promise<void> {
    const focused = interaction.options.getFocused(true);
    const choices = focused.name === 'style' ? styleSuggestions(app.styles, String(focused.value)) : [];
    await interaction.respond(choices).catch((error: unknown) => logger.debug({ err: safeDiscordError(error) }, 'autocomplete not answered'));
  }

  return async function onInteraction(interaction: Interaction): Promise<void> {
    try {
      if (interaction.isChatInputCommand()) await onSlash(interaction);
      else if (interaction.isButton()) await onButton(interaction);
      else if (interaction.isAutocomplete()) await onAutocomplete(interaction);
    } catch (error) {
      logger.error({ err: safeDiscordError(error), interactionId: interaction.id }, 'discord interaction failed');
    }
  };
}
