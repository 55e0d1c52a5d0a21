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
import { safeDiscordError } from './discord-errors.js';
import { optionsFromSlash, SLASH_COMMANDS } from './discord-translation.js';
import { buttonAck, SLASH_ACK, type InteractionAcknowledger } from './interaction-ack.js';
import { lazyChild } from '../../lazy-child-logger.js';
import { conversationOf, userOf, type InteractionAnswer } from './interaction-answer.js';
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
  logger: Logger;
}

/**
 * Routes an interaction: slash commands and buttons are acknowledged (deferred, ephemerally; most
 * often already from their raw packet, see interaction-ack.ts) before anything is awaited, then
 * answered through `answering`; someone else's button gets a notice only the presser sees;
 * autocomplete suggests styles. Never rejects: failures are logged.
 */
export function createInteractionHandler(deps: InteractionHandlerDeps): (interaction: Interaction) => Promise<void> {
  const { app, acknowledger, answering, policy, logger } = deps;

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
    const photos: PhotoSource[] = (PHOTO_OPTIONS.get(command) ?? []).flatMap((name) => {
      const attachment = interaction.options.getAttachment(name);
      return attachment ? [discordPhotoSource({ url: attachment.url, size: attachment.size, name: attachment.name }, attachment.name || name, policy)] : [];
    });
    const request: Request = {
      platform: 'discord',
      eventId: interaction.id,
      user: userOf(interaction),
      conversation: conversationOf(interaction, options.subject === 'memorial'),
      command,
      ...(photos.length > 0 ? { photos } : {}),
      options,
    };
    await answering.answer(interaction, request, log);
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
    // The terms' "I agree" also runs the photo request that waited for them; its status replaces the "thank you" in place.
    await answering.answer(interaction, request, log);
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
