import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  InteractionContextType,
  type APIApplicationCommandBasicOption,
  type APIApplicationCommandOption,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { StyleCatalog } from '../../gpu/styles.js';
import type { CatalogEntry, CatalogOption } from '../core/command-catalog.js';

/**
 * Pure: the command layer's catalog as Discord slash commands. Deployed by `likeness
 * discord:register`, never at start-up (registration is rate-limited and global changes take
 * time to spread).
 */

/** Discord offers at most 25 choices; a bigger style catalog is offered by autocomplete instead. */
export const MAX_CHOICES = 25;
const MAX_DESCRIPTION = 100;

/** How each subject reads in Discord's choice list. */
export const SUBJECT_CHOICES = [
  { name: 'me', value: 'me' },
  { name: 'someone (a living person, with their permission)', value: 'someone' },
  { name: 'memorial (someone who has died; sent privately)', value: 'memorial' },
] as const;

/** The Discord option names of a `photos` option: `photo` for one, `photo1`…`photoN` for several. */
export function photoOptionNames(option: Pick<CatalogOption, 'name' | 'maxCount'>): string[] {
  const count = option.maxCount ?? 1;
  return count === 1 ? [option.name] : Array.from({ length: count }, (_, i) => `${option.name}${i + 1}`);
}

const clipDescription = (text: string) => (text.length <= MAX_DESCRIPTION ? text : `${text.slice(0, MAX_DESCRIPTION - 1)}…`);

function optionsOf(option: CatalogOption, styles: StyleCatalog): APIApplicationCommandBasicOption[] {
  const description = clipDescription(option.description);
  switch (option.kind) {
    case 'photos':
      return photoOptionNames(option).map((name, i) => ({
        type: ApplicationCommandOptionType.Attachment,
        name,
        description: i === 0 ? description : clipDescription(`Another photo of the same person (optional)`),
        required: i === 0 && option.required === true,
      }));
    case 'flag':
      return [{ type: ApplicationCommandOptionType.Boolean, name: option.name, description, required: option.required === true }];
    case 'integer':
      return [{ type: ApplicationCommandOptionType.Integer, name: option.name, description, required: option.required === true, min_value: -1_000_000, max_value: 1_000_000 }];
    case 'text': {
      const base = { type: ApplicationCommandOptionType.String as const, name: option.name, description, required: option.required === true };
      if (option.choices === 'subjects') return [{ ...base, choices: SUBJECT_CHOICES.map((c) => ({ ...c })) }];
      if (option.choices === 'styles') {
        const list = styles.list();
        if (list.length > MAX_CHOICES) return [{ ...base, autocomplete: true }];
        return [{ ...base, choices: list.map((s) => ({ name: clipDescription(s.label), value: s.id })) }];
      }
      return [{ ...base, ...(option.maxLength ? { max_length: option.maxLength } : {}) }];
    }
  }
}

/** Discord wants required options before optional ones; within each group the catalog's order stays. */
function ordered(options: APIApplicationCommandBasicOption[]): APIApplicationCommandBasicOption[] {
  return [...options.filter((o) => o.required), ...options.filter((o) => !o.required)];
}

/** One slash command per typed catalog entry (buttons' commands and text-only ones are not slash commands). */
export function slashCommandsFrom(catalog: readonly CatalogEntry[], styles: StyleCatalog): RESTPostAPIChatInputApplicationCommandsJSONBody[] {
  return catalog.filter((entry) => entry.typed && !entry.textOnly).map((entry) => {
    const options: APIApplicationCommandOption[] = entry.subcommands
      ? entry.subcommands.map((sub) => ({
          type: ApplicationCommandOptionType.Subcommand,
          name: sub.name,
          description: clipDescription(sub.description),
          options: ordered(sub.options.flatMap((o) => optionsOf(o, styles))),
        }))
      : ordered(entry.options.flatMap((o) => optionsOf(o, styles)));
    return {
      type: ApplicationCommandType.ChatInput,
      name: entry.command,
      description: clipDescription(entry.description),
      options,
      contexts: [InteractionContextType.Guild, InteractionContextType.BotDM],
      integration_types: [ApplicationIntegrationType.GuildInstall],
      // "0": only server administrators see it by default; the command layer still checks ADMIN_IDS.
      ...(entry.adminOnly ? { default_member_permissions: '0' } : {}),
    };
  });
}

/** Autocomplete for the style option: styles whose id or label contains what was typed, at most 25. */
export function styleSuggestions(styles: StyleCatalog, typed: string): Array<{ name: string; value: string }> {
  const needle = typed.trim().toLowerCase();
  return styles
    .list()
    .filter((s) => !needle || s.id.includes(needle) || s.label.toLowerCase().includes(needle))
    .slice(0, MAX_CHOICES)
    .map((s) => ({ name: clipDescription(s.label), value: s.id }));
}
