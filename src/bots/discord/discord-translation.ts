import { ButtonStyle, ComponentType, MessageFlags, type APIActionRowComponent, type APIButtonComponentWithCustomId } from 'discord.js';
import { decodeButtonData, encodeButtonData, type ButtonPress } from '../core/button-data.js';
import { COMMAND_CATALOG } from '../core/command-catalog.js';
import type { Button, Reply } from '../core/reply.js';
import type { ReactionIntent } from '../core/request-life.js';
import type { CommandName } from '../core/request.js';

/**
 * Pure translation between Discord's shapes and the command layer's: option values, button ids,
 * reactions, message bodies and message keys. No I/O here.
 */

/** Discord caps a message at 2000 characters and a custom id at 100. */
export const MAX_CONTENT = 2000;
const MAX_LABEL = 80;
/** `custom_id`: at most 100 characters (ASCII here, so bytes). */
export const CUSTOM_ID = { prefix: 'lk', maxBytes: 100 } as const;

export const clip = (text: string, max = MAX_CONTENT): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** Slash command names → the command layer's. */
export const SLASH_COMMANDS: ReadonlyMap<string, CommandName> = new Map(COMMAND_CATALOG.filter((e) => e.typed && !e.textOnly).map((e) => [e.command, e.command]));

/** How `results.platform_message_id` names a Discord message (snowflakes are unique across channels). */
export const messageKey = (messageId: string): string => `discord:${messageId}`;

// ---------- options ----------

/** A command option as Discord sends it (and as discord.js's `interaction.options.data` holds it). */
export interface OptionValue {
  name: string;
  value?: string | number | boolean;
  options?: readonly OptionValue[];
}

/** `<@123>`, `<@!123>` or `123` → `123`; `telegram:42` stays as it is. */
export function adminUserArg(text: string): string {
  const mention = /^<@!?(\d+)>$/.exec(text.trim());
  return mention ? mention[1]! : text.trim();
}

/** The command layer's options for a slash command's option values (photos are read separately). */
export function optionsFromSlash(command: CommandName, data: readonly OptionValue[]): Record<string, string | boolean | undefined> {
  const byName = new Map(data.map((o) => [o.name, o.value]));
  const text = (name: string) => {
    const value = byName.get(name);
    return value === undefined ? undefined : String(value);
  };
  switch (command) {
    case 'portrait':
      return { style: text('style'), subject: text('subject'), prompt: text('prompt') };
    case 'restore':
      return { colorize: byName.get('colorize') === true };
    case 'link':
      return { code: text('code') };
    case 'admin': {
      // A subcommand and its options → the words `/admin` takes on every platform: `grant discord:1 5`.
      const sub = data[0];
      if (!sub) return { args: '' };
      const values = new Map((sub.options ?? []).map((o) => [o.name, o.value]));
      const who = values.get('user');
      const words = [sub.name, who === undefined ? undefined : adminUserArg(String(who)), values.get('credits'), values.get('reason'), values.get('days')];
      return { args: words.filter((w) => w !== undefined && w !== '').join(' ') };
    }
    default:
      return {};
  }
}

// ---------- buttons ----------

export type { ButtonPress } from '../core/button-data.js';

/** `lk|command|target|owner`: a uuid and a snowflake fit well within 100 characters. */
export const encodeCustomId = (button: Pick<Button, 'command' | 'target'>, owner?: string): string => encodeButtonData(button, owner, CUSTOM_ID);
export const decodeCustomId = (customId: string): ButtonPress | undefined => decodeButtonData(customId, CUSTOM_ID);

function styleOf(command: CommandName): APIButtonComponentWithCustomId['style'] {
  if (command === 'forget' || command === 'notthem') return ButtonStyle.Danger;
  if (command === 'consent') return ButtonStyle.Success;
  if (command === 'upscale') return ButtonStyle.Primary;
  return ButtonStyle.Secondary;
}

/** The command layer's buttons as action rows (at most 5 rows of 5). */
export function componentsOf(buttons: readonly Button[][] | undefined, owner?: string): APIActionRowComponent<APIButtonComponentWithCustomId>[] {
  return (buttons ?? [])
    .filter((row) => row.length > 0)
    .slice(0, 5)
    .map((row) => ({
      type: ComponentType.ActionRow,
      components: row.slice(0, 5).map((b) => ({ type: ComponentType.Button, style: styleOf(b.command), label: clip(b.label, MAX_LABEL), custom_id: encodeCustomId(b, owner) })),
    }));
}

// ---------- messages ----------

/** A message body as Discord's REST API takes it. */
export interface MessageBody {
  content: string;
  components: APIActionRowComponent<APIButtonComponentWithCustomId>[];
  flags?: number;
  allowed_mentions: { parse: never[]; users?: string[] };
}

export interface BodyOptions {
  /** Whose buttons these are: others pressing them get a notice. */
  owner?: string;
  /** Only the requester sees it (an interaction follow-up). */
  ephemeral?: boolean;
  /** Lines added under the text (the credit line beside files). */
  footer?: readonly string[];
}

/** Pure: a reply as a Discord message body. Mentions ping only the requester, never @everyone or roles. */
export function messageBody(reply: Pick<Reply, 'text' | 'buttons'>, options: BodyOptions = {}): MessageBody {
  return {
    content: clip([reply.text, ...(options.footer ?? [])].join('\n')),
    components: componentsOf(reply.buttons, options.owner),
    ...(options.ephemeral ? { flags: MessageFlags.Ephemeral } : {}),
    allowed_mentions: { parse: [] },
  };
}

/** The body with the requester mentioned first (a channel message after the interaction's token is spent): it pings them alone. */
export function mentioning(body: MessageBody, userId: string | undefined): MessageBody {
  if (!userId) return body;
  return { ...body, content: clip(`<@${userId}> ${body.content}`), allowed_mentions: { parse: [], users: [userId] } };
}

// ---------- reactions ----------

/** The keycaps 1️⃣–4️⃣ pick a variant; ⭐ picks the only one; 🔄 re-rolls; 👎 is "not them"; ❌ deletes. */
export const PICK_REACTIONS: readonly string[] = ['1️⃣', '2️⃣', '3️⃣', '4️⃣'];
export const STAR_REACTION = '⭐';

/** Emoji arrive with or without the variation selector (U+FE0F); compare without it. */
const bare = (emoji: string) => emoji.replace(/\uFE0F/g, '');

/** Pure: what a reaction asks for, or undefined for any other emoji. */
export function reactionIntent(emoji: string | null | undefined): ReactionIntent | undefined {
  if (!emoji) return undefined;
  const e = bare(emoji);
  const pick = PICK_REACTIONS.findIndex((p) => bare(p) === e);
  if (pick >= 0) return { kind: 'upscale', variant: pick };
  if (e === bare(STAR_REACTION)) return { kind: 'upscale' };
  if (e === bare('🔄')) return { kind: 'reroll' };
  if (e === bare('👎')) return { kind: 'notthem' };
  if (e === bare('❌')) return { kind: 'delete' };
  return undefined;
}

/** The reactions the bot adds under a result message, so people can pick by reacting: one per variant, or ⭐ for one image. */
export function pickReactionsFor(reply: Pick<Reply, 'buttons'>): string[] {
  const picks = (reply.buttons ?? []).flat().filter((b) => b.command === 'upscale').length;
  if (picks === 0) return [];
  return picks === 1 ? [STAR_REACTION] : PICK_REACTIONS.slice(0, picks);
}

/** The reaction's emoji in the form Discord's reaction routes take. */
export const reactionRouteEmoji = (emoji: string): string => encodeURIComponent(emoji);
