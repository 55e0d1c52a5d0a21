import { DiscordAPIError } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { createIntakeGate as createAckFirst } from '../../src/bots/core/intake-gate.js';
import { isClosedToBot, isStaleInteraction, isTokenExpired, safeDiscordError, scrubDiscordText } from '../../src/bots/discord/discord-errors.js';
import {
  componentsOf,
  decodeCustomId,
  encodeCustomId,
  mentioning,
  messageBody,
  optionsFromSlash,
  pickReactionsFor,
  reactionIntent,
} from '../../src/bots/discord/discord-translation.js';
import { MAX_CHOICES, slashCommandsFrom, styleSuggestions } from '../../src/bots/discord/slash-commands.js';
import { COMMAND_CATALOG } from '../../src/bots/core/command-catalog.js';
import { createStyleCatalog, type Style, type StyleCatalog } from '../../src/gpu/styles.js';

const UUID = '0b6f2c1e-5d7a-4c3b-9e8f-1a2b3c4d5e6f';
const SNOWFLAKE = '1234567890123456789';

describe('button ids', () => {
  it('carry the command, its target and the owner, within Discord’s 100 characters', () => {
    const id = encodeCustomId({ command: 'upscale', target: UUID }, SNOWFLAKE);
    expect(id.length).toBeLessThanOrEqual(100);
    expect(decodeCustomId(id)).toEqual({ command: 'upscale', target: UUID, owner: SNOWFLAKE });
    expect(decodeCustomId(encodeCustomId({ command: 'consent' }))).toEqual({ command: 'consent', target: undefined, owner: undefined });
  });

  it('refuse ids that are not ours or name no command', () => {
    expect(decodeCustomId('someone-else|upscale|x|y')).toBeUndefined();
    expect(decodeCustomId('lk|rm-rf|x|y')).toBeUndefined();
    expect(decodeCustomId('')).toBeUndefined();
  });

  it('render as action rows with a style per command', () => {
    const rows = componentsOf(
      [
        [{ label: 'U1', command: 'upscale', target: UUID }],
        [{ label: '👎 Not them', command: 'notthem', target: UUID }, { label: 'Delete everything', command: 'forget', target: 'confirm' }],
        [],
      ],
      SNOWFLAKE,
    );
    expect(rows).toHaveLength(2);
    expect(rows.map((r) => r.components.map((c) => [c.label, c.style]))).toEqual([[['U1', 1]], [['👎 Not them', 4], ['Delete everything', 4]]]);
  });
});

describe('slash command options', () => {
  it('become the command layer’s options', () => {
    expect(optionsFromSlash('portrait', [{ name: 'style', value: 'noir' }, { name: 'photo1', value: 'att' }, { name: 'subject', value: 'memorial' }])).toEqual({
      style: 'noir',
      subject: 'memorial',
      prompt: undefined,
    });
    expect(optionsFromSlash('restore', [{ name: 'colorize', value: true }])).toEqual({ colorize: true });
    expect(optionsFromSlash('restore', [])).toEqual({ colorize: false });
    expect(optionsFromSlash('credits', [])).toEqual({});
  });

  it('turn /admin subcommands into the words /admin takes everywhere', () => {
    expect(optionsFromSlash('admin', [{ name: 'grant', options: [{ name: 'user', value: `<@!${SNOWFLAKE}>` }, { name: 'credits', value: 5 }] }])).toEqual({ args: `grant ${SNOWFLAKE} 5` });
    expect(optionsFromSlash('admin', [{ name: 'ban', options: [{ name: 'user', value: 'telegram:42' }, { name: 'reason', value: 'spam' }] }])).toEqual({ args: 'ban telegram:42 spam' });
    expect(optionsFromSlash('admin', [{ name: 'stats', options: [] }])).toEqual({ args: 'stats' });
  });
});

describe('reactions', () => {
  it('read keycaps with or without the variation selector, and the other emoji', () => {
    expect(reactionIntent('1️⃣')).toEqual({ kind: 'upscale', variant: 0 });
    expect(reactionIntent('4\u20E3')).toEqual({ kind: 'upscale', variant: 3 });
    expect(reactionIntent('⭐')).toEqual({ kind: 'upscale' }); // the only picture the message shows
    expect(reactionIntent('🔄')).toEqual({ kind: 'reroll' });
    expect(reactionIntent('👎')).toEqual({ kind: 'notthem' });
    expect(reactionIntent('❌')).toEqual({ kind: 'delete' });
    for (const other of ['❤️', '5️⃣', 'custom', '', null, undefined]) expect(reactionIntent(other)).toBeUndefined();
  });

  it('the bot adds one per variant, or ⭐ for a single picture, and none without picks', () => {
    const picks = (n: number) => [Array.from({ length: n }, (_, i) => ({ label: `U${i + 1}`, command: 'upscale' as const, target: UUID }))];
    expect(pickReactionsFor({ buttons: picks(4) })).toEqual(['1️⃣', '2️⃣', '3️⃣', '4️⃣']);
    expect(pickReactionsFor({ buttons: picks(1) })).toEqual(['⭐']);
    expect(pickReactionsFor({ buttons: [] })).toEqual([]);
  });
});

describe('message bodies', () => {
  it('clip to 2000 characters and never ping anyone unless asked', () => {
    const body = messageBody({ text: 'x'.repeat(2500) }, { ephemeral: true });
    expect(body.content).toHaveLength(2000);
    expect(body.flags).toBe(64);
    expect(body.allowed_mentions).toEqual({ parse: [] });
    const mentioned = mentioning(messageBody({ text: 'Here you are' }), SNOWFLAKE);
    expect(mentioned.content).toBe(`<@${SNOWFLAKE}> Here you are`);
    expect(mentioned.allowed_mentions).toEqual({ parse: [], users: [SNOWFLAKE] });
  });
});

function catalogOf(count: number): StyleCatalog {
  const base = createStyleCatalog().list()[0]!;
  const styles: Style[] = Array.from({ length: count }, (_, i) => ({ ...base, id: `style-${i}`, label: `Style ${i}` }));
  return { list: () => styles, get: (id) => styles.find((s) => s.id === id), defaultId: 'style-0' };
}

describe('slash commands from the catalog', () => {
  it('follow Discord’s rules: names, description lengths, required options first', () => {
    const commands = slashCommandsFrom(COMMAND_CATALOG, createStyleCatalog());
    const check = (options: ReadonlyArray<{ name: string; description: string; required?: boolean; options?: unknown }> = []) => {
      let optionalSeen = false;
      for (const o of options) {
        expect(o.name).toMatch(/^[-_a-z0-9]{1,32}$/);
        expect(o.description.length).toBeGreaterThan(0);
        expect(o.description.length).toBeLessThanOrEqual(100);
        if (!o.required) optionalSeen = true;
        else expect(optionalSeen).toBe(false);
        if (Array.isArray(o.options)) check(o.options as typeof options);
      }
    };
    for (const command of commands) {
      expect(command.name).toMatch(/^[-_a-z0-9]{1,32}$/);
      expect(command.description!.length).toBeLessThanOrEqual(100);
      check(command.options as never);
    }
    const restore = commands.find((c) => c.name === 'restore')!;
    expect(restore.options!.map((o) => o.name)).toEqual(['photo', 'colorize']);
    const admin = commands.find((c) => c.name === 'admin')!;
    expect(admin.default_member_permissions).toBe('0');
    expect(admin.options!.map((o) => o.name)).toEqual(['grant', 'ban', 'unban', 'stats']);
    expect(commands.find((c) => c.name === 'portrait')!.default_member_permissions).toBeUndefined();
  });

  it('offers styles as choices up to 25, and by autocomplete beyond', () => {
    const style = (catalog: StyleCatalog) => slashCommandsFrom(COMMAND_CATALOG, catalog).find((c) => c.name === 'portrait')!.options!.find((o) => o.name === 'style') as {
      choices?: unknown[];
      autocomplete?: boolean;
    };
    expect(style(catalogOf(MAX_CHOICES)).choices).toHaveLength(MAX_CHOICES);
    expect(style(catalogOf(MAX_CHOICES + 5))).toMatchObject({ autocomplete: true });
    expect(style(catalogOf(MAX_CHOICES + 5)).choices).toBeUndefined();
    expect(styleSuggestions(catalogOf(40), '1').map((s) => s.value)).toContain('style-1');
    expect(styleSuggestions(catalogOf(40), '')).toHaveLength(MAX_CHOICES);
  });
});

describe('Discord errors', () => {
  const token = 'aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTpzZWNyZXQ';
  const apiError = (code: number, status: number, url: string) => new DiscordAPIError({ code, message: 'nope' }, code, status, 'POST', url, { body: { token } });

  it('lose every interaction token on the way to a log', () => {
    expect(scrubDiscordText(`POST https://discord.com/api/v10/webhooks/${SNOWFLAKE}/${token}?wait=true failed`)).toBe(
      `POST https://discord.com/api/v10/webhooks/${SNOWFLAKE}/[REDACTED]?wait=true failed`,
    );
    const safe = safeDiscordError(apiError(50027, 401, `https://discord.com/api/v10/interactions/${SNOWFLAKE}/${token}/callback`));
    expect(JSON.stringify({ ...safe, message: safe.message, stack: safe.stack })).not.toContain(token);
    expect(safe).toMatchObject({ status: 401, discordCode: 50027, path: `/api/v10/interactions/${SNOWFLAKE}/[REDACTED]/callback` });
    const wrapped = safeDiscordError(new Error(`fetch failed for /webhooks/${SNOWFLAKE}/${token}`));
    expect(wrapped.message).not.toContain(token);
  });

  it('say what a failure means', () => {
    expect(isStaleInteraction(apiError(40060, 400, 'https://x/'))).toBe(true);
    expect(isStaleInteraction(apiError(10062, 404, 'https://x/'))).toBe(true);
    expect(isTokenExpired(apiError(50027, 401, 'https://x/'))).toBe(true);
    expect(isTokenExpired(safeDiscordError(apiError(10015, 404, 'https://x/')))).toBe(true);
    expect(isClosedToBot(apiError(50001, 403, 'https://x/'))).toBe(true);
    expect(isClosedToBot(apiError(50007, 400, 'https://x/'))).toBe(true);
    expect(isClosedToBot(apiError(50035, 400, 'https://x/'))).toBe(false);
  });
});

describe('acknowledgements first', () => {
  const deferred = () => {
    let resolve = () => {};
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  };

  it('holds work while acknowledgements are in flight, up to a bound', async () => {
    const gate = createAckFirst({ maxWaitMs: 200 });
    const ack = deferred();
    void gate.acknowledging(ack.promise);
    let ran = false;
    const work = gate.quiet().then(() => (ran = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(ran).toBe(false);
    ack.resolve();
    await work;
    expect(ran).toBe(true);

    void gate.acknowledging(new Promise(() => {})); // never settles
    const started = performance.now();
    await gate.quiet();
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('runs heavy work a few at a time, in order', async () => {
    const gate = createAckFirst({ concurrency: 2 });
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        gate.heavy(async () => {
          running += 1;
          peak = Math.max(peak, running);
          order.push(i);
          await new Promise((r) => setTimeout(r, 10));
          running -= 1;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(gate.stats).toEqual({ acknowledging: 0, heavyRunning: 0, heavyWaiting: 0 });
  });
});
