/**
 * The Discord commands that answer at once (no GPU), on a bot that runs two gateway shards:
 * /help, /styles, /credits, /history, /cancel, /forget with its confirm button, /admin, style
 * autocomplete and an unknown command; in a server (the guild's shard) and in a DM (shard 0).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { discordHarness, type DiscordHarness } from '../support/discord-harness.js';
import { OPTION, type FakeDiscord, type FakeInteraction, type FakeMessage, type FakeUser } from '../support/fake-discord.js';

const buttons = (message: FakeMessage) =>
  (message.components as Array<{ components: Array<{ label: string; custom_id: string; style: number }> }>).flatMap((row) => row.components);

describe('Discord commands on a sharded bot', () => {
  let harness: DiscordHarness;
  let fake: FakeDiscord;
  let app: App;
  let root: FakeUser;

  beforeAll(async () => {
    harness = await discordHarness({ fake: { shards: 2, heartbeatIntervalMs: 5_000 }, env: (f) => ({ ADMIN_IDS: `discord:${f.user('root').id}` }) });
    fake = harness.fake;
    app = harness.t.app;
    root = fake.user('root');
  });
  afterAll(() => harness.cleanup());

  /** Runs a command and returns the text of its (deferred, ephemeral) answer. */
  async function run(name: string, from: FakeUser, options: Parameters<FakeDiscord['slash']>[1] = [], where?: { guild?: boolean }): Promise<{ ix: FakeInteraction; text: string }> {
    const ix = fake.slash(name, options, { from, where });
    const answer = await fake.waitFor(() => (ix.original && ix.original.edits > 0 ? ix.original : undefined), 10_000, `answer to /${name}`);
    expect(ix.callbacks[0]).toMatchObject({ type: 5, flags: 64 });
    return { ix, text: answer.content };
  }

  it('identifies every shard the gateway recommends, and answers on each', async () => {
    expect(fake.identifies.map((i) => i.shard).sort()).toEqual([
      [0, 2],
      [1, 2],
    ]);
    const ann = fake.user('ann');
    expect((await run('help', ann, [], { guild: true })).text).toContain('/portrait');
    expect((await run('help', ann, [], { guild: false })).text).toContain('/portrait'); // a DM: shard 0
  });

  it('lists styles, credits, history and nothing to cancel', async () => {
    const ben = fake.user('ben');
    expect((await run('styles', ben)).text).toMatch(/^Styles:\n• studio — Studio portrait/);
    expect((await run('credits', ben)).text).toMatch(/^Credits: 0 · free today: 8 of 8/);
    expect((await run('history', ben)).text).toMatch(/No requests yet/);
    expect((await run('cancel', ben)).text).toMatch(/Nothing to cancel/);
    expect((await run('restyle', ben)).text).toMatch(/I don't know that command/);
  });

  it('autocompletes styles', async () => {
    const ix = fake.autocomplete('portrait', [{ name: 'style', type: OPTION.string, value: 'noi', focused: true }], fake.user('cat'));
    const callback = await fake.waitFor(() => ix.callbacks[0], 5_000, 'autocomplete');
    expect(callback.type).toBe(8);
    expect(callback.data).toEqual({ choices: [{ name: 'Film noir', value: 'noir' }] });
  });

  it('/admin works for ADMIN_IDS only', async () => {
    const dee = fake.user('dee');
    expect((await run('admin', dee, [{ name: 'stats', type: OPTION.subcommand, options: [] }])).text).toMatch(/I don't know that command/);
    expect((await run('admin', root, [{ name: 'stats', type: OPTION.subcommand, options: [{ name: 'days', type: OPTION.integer, value: 3 }] }])).text).toMatch(/^Usage, last 3 days \(UTC\)\nTotal — /);
    const grant = await run('admin', root, [
      {
        name: 'grant',
        type: OPTION.subcommand,
        options: [
          { name: 'user', type: OPTION.string, value: `<@${dee.id}>` },
          { name: 'credits', type: OPTION.integer, value: 5 },
        ],
      },
    ]);
    expect(grant.text).toBe(`Granted 5 credits to discord:${dee.id}.`);
    expect((await run('credits', dee)).text).toMatch(/^Credits: 5 /);
  });

  it('/forget asks first, turns away other people’s presses, and deletes on the owner’s', async () => {
    const eli = fake.user('eli');
    await run('credits', eli); // an account to forget
    const { ix, text } = await run('forget', eli);
    expect(text).toMatch(/cannot be undone/);
    const confirm = buttons(ix.original!).find((b) => b.label === 'Delete everything')!;
    expect(confirm.style).toBe(4); // danger

    const other = fake.press(ix.original!, confirm.custom_id, fake.user('fox'));
    await fake.waitFor(() => other.original, 5_000, 'notice');
    expect(other.original!.flags).toBe(64);
    expect(other.original!.content).toMatch(/Only the person who asked/);

    const press = fake.press(ix.original!, confirm.custom_id, eli);
    await fake.waitFor(() => ix.original!.content.startsWith('Done.'), 5_000, 'forgotten');
    expect(press.callbacks[0]).toMatchObject({ type: 6 }); // answered in place
    expect(ix.original!.components).toEqual([]);
    const { rows } = await app.database.pool.query(`select count(*)::int as n from identities where platform = 'discord' and platform_user_id = $1`, [eli.id]);
    expect(rows[0]).toEqual({ n: 0 });
  });
});
