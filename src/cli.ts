#!/usr/bin/env node
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createApp } from './app.js';
import { runCliRequest } from './bots/cli/cli.frontend.js';
import { registerDiscordCommands } from './bots/discord/index.js';
import { ConfigError, configSecrets, loadConfig } from './config.js';
import { prepareDatabase } from './db/client.js';
import { createStyleCatalog } from './gpu/styles.js';
import { createLogger } from './logger.js';
import { runService } from './service.js';

const USAGE = `likeness — an AI portrait studio for Discord and Telegram

Usage:
  likeness portrait <photo> [photo…] [--style studio] [--subject me|someone|memorial] [--prompt "…"] [--seed N] [--out out/]
  likeness restore <photo> [--colorize] [--out out/]
  likeness upscale <result-id> [--out out/]
  likeness styles | credits | history
  likeness all        bots, delivery and a GPU worker in one process (npm start)
  likeness serve      the bots process: chat front-ends and delivery
  likeness worker     a GPU worker
  likeness migrate    create the database if needed and apply migrations
  likeness discord:register   deploy the slash commands (global, or DISCORD_GUILD_ID only)

Options: --user <name> (CLI identity, default: your login), --no-worker (use running workers), --help`;

const FRONTEND_COMMANDS = new Set(['portrait', 'restore', 'upscale', 'styles', 'credits', 'history']);

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      style: { type: 'string' },
      subject: { type: 'string' },
      prompt: { type: 'string' },
      seed: { type: 'string' },
      colorize: { type: 'boolean' },
      out: { type: 'string', default: 'out' },
      user: { type: 'string' },
      'no-worker': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...args] = positionals;
  if (!command || values.help) {
    process.stdout.write(`${USAGE}\n`);
    return command || values.help ? 0 : 2;
  }

  // Only the processes that sign download links need LINK_SECRET (GPU workers never hold it).
  const config = loadConfig(process.env, { servesDownloads: command === 'serve' || command === 'all' });
  const frontend = FRONTEND_COMMANDS.has(command);
  // The CLI front-end keeps stdout for the person: logs go to stderr, and only warnings unless asked.
  const logger = createLogger({
    level: frontend && !process.env.LOG_LEVEL ? 'warn' : config.logLevel,
    secrets: configSecrets(config),
    destination: pino.destination(frontend ? 2 : 1),
  });

  if (command === 'migrate') {
    await prepareDatabase(config.databaseUrl);
    logger.info('database ready');
    return 0;
  }
  if (command !== 'discord:register') await prepareDatabase(config.databaseUrl);

  if (frontend) {
    const app = createApp(config, logger);
    try {
      if ((command === 'portrait' || command === 'restore') && args.length === 0) {
        process.stderr.write(`Please give the photo${command === 'portrait' ? '(s)' : ''} to use, e.g. likeness ${command} photo.jpg\n`);
        return 2;
      }
      return await runCliRequest(
        app,
        {
          command: command as 'portrait',
          photos: command === 'portrait' || command === 'restore' ? args : undefined,
          target: command === 'upscale' ? args[0] : undefined,
          options: { style: values.style, subject: values.subject, prompt: values.prompt, seed: values.seed, colorize: values.colorize },
          outDir: values.out,
          user: values.user ?? loginName(),
          inProcessWorker: !values['no-worker'],
        },
        { print: (line) => process.stdout.write(`${line}\n`), printError: (line) => process.stderr.write(`${line}\n`) },
      );
    } finally {
      await app.close();
    }
  }

  if (command === 'serve' || command === 'worker' || command === 'all') return runService(command, config, logger);
  if (command === 'discord:register') {
    const registered = await registerDiscordCommands(config, createStyleCatalog(config.gpu.stylesFile));
    logger.info({ scope: registered.scope, guildId: registered.guildId, commands: registered.commands }, 'discord commands registered');
    return 0;
  }
  process.stderr.write(`Unknown command "${command}".\n\n${USAGE}\n`);
  return 2;
}

/** The CLI's identity: the login name, or "local" where the OS has none (a container's numeric uid). */
function loginName(): string {
  try {
    return userInfo().username || 'local';
  } catch {
    return 'local';
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
    else if (error instanceof Error && error.name === 'TypeError' && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${error.message}\n\n${USAGE}\n`);
    } else process.stderr.write(`likeness: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
