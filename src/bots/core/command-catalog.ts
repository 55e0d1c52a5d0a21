import { PROMPT_MAX } from '../../jobs/job-params.js';
import type { CommandName } from './request.js';

/**
 * The commands a person can type, described once for every front-end: Discord generates its slash
 * commands from this list, a text front-end can build its menu and help from it. Platform-neutral:
 * "up to 4 photos" is one option here; an adapter decides how to ask for them (Discord: one
 * attachment option each).
 */

/** Values an option takes from a catalog that lives elsewhere (the style catalog, the subjects). */
export type OptionChoices = 'styles' | 'subjects';

export interface CatalogOption {
  /** The key the command layer reads in `Request.options` (`style`, `subject`, `prompt`, `colorize`…). */
  name: string;
  description: string;
  kind: 'text' | 'integer' | 'flag' | 'photos';
  required?: boolean;
  choices?: OptionChoices;
  /** `text`: longest accepted value. */
  maxLength?: number;
  /** `photos`: how many may be given (the first is required when `required`). */
  maxCount?: number;
}

/** A verb of a command with its own options (`/admin grant <user> <credits>`). */
export interface CatalogSubcommand {
  name: string;
  description: string;
  options: readonly CatalogOption[];
}

export interface CatalogEntry {
  command: CommandName;
  /** One line for menus and slash commands (at most 100 characters). */
  description: string;
  options: readonly CatalogOption[];
  /** Typed by people: menus, slash commands and help list it. Others come only from a button or a reaction. */
  typed: boolean;
  /** Typed on text front-ends only (Telegram's /start); not a slash command. */
  textOnly?: boolean;
  /** It uses someone's photos: the terms must be accepted first, and banned accounts are refused. */
  needsConsent?: boolean;
  /** It queues GPU work: its request gets a status message that follows the job to the end. */
  queuesWork?: boolean;
  /** Its answer is for the asker alone (a code, a balance, a history): refused where others would read it. */
  personal?: boolean;
  /** Text front-ends' menu line, when it must say how to attach photos (otherwise `description`). */
  textMenu?: string;
  /** Its line in /help, after the command and its `usage` (absent: not in the help). */
  help?: string;
  /** What follows the command in a text front-end, e.g. `[style] [prompt]`. */
  usage?: string;
  /** Verbs, joined with their options into `options.args` for the command (`grant discord:1 5`). */
  subcommands?: readonly CatalogSubcommand[];
  /** Operators only (`ADMIN_IDS`); adapters hide it from everyone else where the platform can. */
  adminOnly?: boolean;
}

export const COMMAND_CATALOG: readonly CatalogEntry[] = [
  {
    command: 'portrait',
    description: 'Four AI portraits from 1–4 photos of one person',
    typed: true,
    needsConsent: true,
    queuesWork: true,
    usage: '[style] [prompt]',
    textMenu: 'Send 1–4 photos with this caption: /portrait [style] [prompt]',
    help: 'attach 1–4 photos with a clear face; you get 4 portraits.',
    options: [
      { name: 'style', description: 'The look of the portraits', kind: 'text', required: true, choices: 'styles' },
      { name: 'photo', description: 'A photo with the face clearly visible', kind: 'photos', required: true, maxCount: 4 },
      { name: 'subject', description: 'Who is in the photos (default: me)', kind: 'text', choices: 'subjects' },
      { name: 'prompt', description: 'Anything to add, e.g. "in a red scarf"', kind: 'text', maxLength: PROMPT_MAX },
    ],
  },
  {
    command: 'restore',
    description: 'Restore an old or damaged photo',
    typed: true,
    needsConsent: true,
    queuesWork: true,
    usage: '[colorize]',
    textMenu: 'Send an old photo with this caption: /restore [colorize]',
    help: 'attach an old photo to restore it faithfully.',
    options: [
      { name: 'photo', description: 'The old photo', kind: 'photos', required: true, maxCount: 1 },
      { name: 'colorize', description: 'Also add colour', kind: 'flag' },
    ],
  },
  { command: 'styles', description: 'The styles you can ask for', options: [], typed: true, help: 'the styles you can ask for.' },
  { command: 'credits', description: 'Your balance and free credits left today', options: [], typed: true, personal: true, help: 'your balance and free credits left today.' },
  { command: 'history', description: 'Your recent requests', options: [], typed: true, personal: true, help: 'your recent requests.' },
  {
    command: 'cancel',
    description: 'Stop your requests in progress (refunded)',
    options: [],
    typed: true,
    help: 'stop your requests that are waiting or in progress; their credits come back.',
  },
  {
    command: 'forget',
    description: 'Delete every photo, result and record of you',
    options: [],
    typed: true,
    personal: true,
    help: 'delete every photo, result and record of you.',
  },
  {
    command: 'link',
    description: 'Share one account (credits, history) between Discord and Telegram',
    typed: true,
    personal: true,
    textMenu: 'One account for Telegram and Discord: /link, or /link CODE',
    help: 'one account for Discord and Telegram: credits and history shared.',
    options: [{ name: 'code', description: 'The code /link gave you on the other platform; leave empty to get one', kind: 'text', maxLength: 16 }],
  },
  { command: 'help', description: 'What Likeness can do', options: [], typed: true },
  { command: 'start', description: 'The terms and a short guide', options: [], typed: true, textOnly: true },
  {
    command: 'admin',
    description: 'Operators only: credits, bans and usage',
    typed: true,
    adminOnly: true,
    options: [],
    subcommands: [
      {
        name: 'grant',
        description: 'Add (or with a minus, remove) paid credits',
        options: [
          { name: 'user', description: 'A user id, a mention, or platform:id', kind: 'text', required: true },
          { name: 'credits', description: 'How many credits', kind: 'integer', required: true },
        ],
      },
      {
        name: 'ban',
        description: 'Stop someone from making pictures',
        options: [
          { name: 'user', description: 'A user id, a mention, or platform:id', kind: 'text', required: true },
          { name: 'reason', description: 'Why (kept for the record)', kind: 'text' },
        ],
      },
      { name: 'unban', description: 'Lift a ban', options: [{ name: 'user', description: 'A user id, a mention, or platform:id', kind: 'text', required: true }] },
      {
        name: 'stats',
        description: 'Jobs, GPU time and cost by day, backend and user',
        options: [{ name: 'days', description: 'How many days back (default 7, at most 90)', kind: 'integer' }],
      },
    ],
  },
  // Sent by buttons and reactions only.
  { command: 'upscale', description: 'An 8K version of a favourite', options: [], typed: false, needsConsent: true, queuesWork: true },
  { command: 'reroll', description: 'The same photos and style, a new seed', options: [], typed: false, needsConsent: true, queuesWork: true },
  { command: 'notthem', description: 'Not them: try again closer to the photos', options: [], typed: false, needsConsent: true, queuesWork: true },
  { command: 'consent', description: 'I agree to the terms', options: [], typed: false },
];

const BY_COMMAND = new Map(COMMAND_CATALOG.map((entry) => [entry.command, entry]));

/** The catalog entry of a command (every command has one). */
export function catalogEntry(command: CommandName): CatalogEntry {
  return BY_COMMAND.get(command)!;
}

/** Whether a command takes photos (a `photos` option): its request reads them, and waits for them before its first word. */
export const takesPhotos = (command: CommandName): boolean => catalogEntry(command).options.some((o) => o.kind === 'photos');

/** The commands people type on a text front-end (Telegram), by the name they type. */
export const TYPED_COMMANDS: ReadonlyMap<string, CommandName> = new Map(COMMAND_CATALOG.filter((e) => e.typed).map((e) => [e.command, e.command]));

/** A text front-end's command menu: every typed command but the operators' own. */
export function textMenu(): Array<{ command: string; description: string }> {
  return COMMAND_CATALOG.filter((e) => e.typed && !e.adminOnly).map((e) => ({ command: e.command, description: e.textMenu ?? e.description }));
}

/** The /help text, from the catalog's help lines. */
export function helpText(): string {
  const lines = COMMAND_CATALOG.filter((e) => e.typed && e.help).map((e) => `/${e.command}${e.usage ? ` ${e.usage}` : ''} — ${e.help}`);
  return ['Likeness makes portraits from your photos.', ...lines, 'Pick a favourite portrait to get it in 8K.'].join('\n');
}
