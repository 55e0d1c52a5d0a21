/** The Discord front-end: what the bots process and `likeness discord:register` need. */
export { createDiscordFrontend, TOKEN_KEEP_MS, type DiscordFrontend, type DiscordFrontendDeps, type DiscordTuning } from './discord.frontend.js';
export { registerDiscordCommands, type RegisteredCommands } from './register-commands.js';
export { createDiscordChat } from './discord-chat.js';
export { DISCORD_INTENTS, DISCORD_PARTIALS } from './discord-client.js';
