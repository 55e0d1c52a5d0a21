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
  description: string;
  options: readonly CatalogOption[];
  /** Verbs, joined with their options into `options.args` for the command (`grant discord:1 5`). */
  subcommands?: readonly CatalogSubcommand[];
  /** Operators only (`ADMIN_IDS`); adapters hide it from everyone else where the platform can. */
  adminOnly?: boolean;
}

const PROMPT_MAX = 300;

/** Every command a person types, in the order menus show them. Buttons (upscale, reroll, notthem, consent) are not typed. */
export const COMMAND_CATALOG: readonly CatalogEntry[] = [
  {
    command: 'portrait',
    description: 'Four AI portraits from 1–4 photos of one person',
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
    options: [
      { name: 'photo', description: 'The old photo', kind: 'photos', required: true, maxCount: 1 },
      { name: 'colorize', description: 'Also add colour', kind: 'flag' },
    ],
  },
  { command: 'styles', description: 'The styles you can ask for', options: [] },
  { command: 'credits', description: 'Your balance and free credits left today', options: [] },
  { command: 'history', description: 'Your recent requests', options: [] },
  { command: 'cancel', description: 'Stop your requests in progress (refunded)', options: [] },
  { command: 'forget', description: 'Delete every photo, result and record of you', options: [] },
  {
    command: 'link',
    description: 'Share one account (credits, history) between Discord and Telegram',
    options: [{ name: 'code', description: 'The code /link gave you on the other platform; leave empty to get one', kind: 'text', maxLength: 16 }],
  },
  { command: 'help', description: 'What Likeness can do', options: [] },
  {
    command: 'admin',
    description: 'Operators only: credits, bans and usage',
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
];
