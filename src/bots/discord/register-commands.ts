import { Routes, type REST, type RESTGetAPIOAuth2CurrentApplicationResult } from 'discord.js';
import type { Config } from '../../config.js';
import type { StyleCatalog } from '../../gpu/styles.js';
import { COMMAND_CATALOG } from '../core/command-catalog.js';
import { createDiscordRest } from './discord-client.js';
import { safeDiscordError } from './discord-errors.js';
import { slashCommandsFrom } from './slash-commands.js';

export interface RegisteredCommands {
  scope: 'global' | 'guild';
  guildId?: string;
  applicationId: string;
  /** The names now registered, in order. */
  commands: string[];
}

/**
 * `likeness discord:register`: replaces the application's slash commands with those generated
 * from the command catalog (one bulk overwrite, so removed commands disappear too). With
 * `DISCORD_GUILD_ID` they go to that one server, where changes show at once (for development);
 * otherwise globally. The application id comes from `DISCORD_APPLICATION_ID`, or from Discord.
 */
export async function registerDiscordCommands(config: Pick<Config, 'discord'>, styles: StyleCatalog, options: { rest?: REST } = {}): Promise<RegisteredCommands> {
  const discord = config.discord;
  if (!discord) throw new Error('DISCORD_TOKEN is not set');
  const rest = options.rest ?? createDiscordRest(discord);
  try {
    const applicationId = discord.applicationId ?? ((await rest.get(Routes.currentApplication())) as RESTGetAPIOAuth2CurrentApplicationResult).id;
    const body = slashCommandsFrom(COMMAND_CATALOG, styles);
    const route = discord.guildId ? Routes.applicationGuildCommands(applicationId, discord.guildId) : Routes.applicationCommands(applicationId);
    const registered = (await rest.put(route, { body })) as Array<{ name: string }>;
    return {
      scope: discord.guildId ? 'guild' : 'global',
      ...(discord.guildId ? { guildId: discord.guildId } : {}),
      applicationId,
      commands: registered.map((c) => c.name),
    };
  } catch (error) {
    throw safeDiscordError(error);
  }
}
