/**
 * 8. The same event delivered twice, at once and again after it was handled, while a request
 * stream runs: a Telegram update (a photo with /portrait, a 🔄 button press) and a Discord
 * interaction (a 🔄 button press, replayed on the gateway). Each makes one job, one charge and
 * one set of results.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FakeDiscord, FakeInteraction, FakeMessage as DiscordMessage } from '../../support/fake-discord.js';
import { agreeToTerms, privateChat, type FakeTelegram, type TgUser } from '../../support/fake-telegram.js';
import type { JobRow } from '../audit.js';
import { openHarness, type Harness } from '../harness.js';
import { userIds } from '../load.js';
import { commonFailures, type Scenario } from '../scenario.js';

/** What one platform event led to. */
interface EventOutcome {
  what: string;
  key: string;
  /** Result sets that reached the chat for it. */
  results: () => number;
}

const people: TgUser[] = [1, 2, 3].map((n) => ({ id: 8_100 + n, is_bot: false, first_name: `Dup${n}` }));

/** A photo with /portrait, its update delivered again at once; then 🔄 on the result, pressed once and delivered twice. */
async function telegramTwice(fake: FakeTelegram, person: TgUser, photo: Buffer): Promise<EventOutcome[]> {
  const chat = privateChat(person);
  const { updateId, message } = await fake.userSends({ chat, from: person, photo, caption: '/portrait' });
  fake.pushUpdate({ message }, updateId);
  const albums = () => fake.callsOf('sendMediaGroup').filter((c) => !c.failed && Number(c.params.chat_id) === chat.id).length;
  await fake.waitFor(() => fake.button(chat.id, /🔄/), 60_000, `the results for ${person.first_name}`);
  fake.pushUpdate({ message }, updateId); // once more, long after
  const again = fake.button(chat.id, /🔄/)!;
  const press = { callback_query: { id: `cq-${person.id}`, from: person, message: stripped(again.message), chat_instance: String(chat.id), data: again.data } };
  const pressId = fake.pushUpdate(press);
  fake.pushUpdate(press, pressId);
  await fake.waitFor(() => albums() >= 2, 60_000, `the re-roll for ${person.first_name}`);
  await sleep(500);
  fake.pushUpdate(press, pressId);
  // The first album answers the photo; any later one the press.
  return [
    { what: 'Telegram photo update', key: `telegram:${updateId}`, results: () => Math.min(albums(), 1) },
    { what: 'Telegram button update', key: `telegram:${pressId}`, results: () => Math.max(0, albums() - 1) },
  ];
}

/** A portrait for a Discord user (made through the command layer), then 🔄 on its message: the interaction replayed at once and later. */
async function discordTwice(h: Harness, discord: FakeDiscord): Promise<EventOutcome> {
  const dora = discord.user('dora');
  const conversation = { platform: 'discord', chatId: discord.channelId, userId: dora.id };
  const ask = (command: 'consent' | 'portrait', eventId: string) =>
    h.app.commands.handle({ platform: 'discord', eventId, user: { id: dora.id }, conversation, command, photos: command === 'portrait' ? [photoSource()] : undefined });
  await ask('consent', 'dora-consent');
  const first = await ask('portrait', 'dora-portrait');
  if (!first.job) throw new Error(`Discord portrait refused: ${first.text}`);
  const result = await discord.waitFor(() => discord.messagesIn(discord.channelId).find((m) => m.attachments.length === 4 && customIds(m).some((b) => /Again/.test(b.label))), 60_000, 'the Discord portraits');
  const again = customIds(result).find((b) => /Again/.test(b.label))!;
  const interaction: FakeInteraction = discord.press(result, again.id, dora);
  discord.replay(interaction);
  const sets = () => interaction.followUps.filter((m) => m.attachments.length === 4).length + (interaction.original?.attachments.length === 4 ? 1 : 0);
  await discord.waitFor(() => sets() > 0, 60_000, 'the Discord re-roll');
  discord.replay(interaction);
  await sleep(1_000);
  return { what: 'Discord button interaction', key: `discord:${interaction.id}`, results: sets };
}

const customIds = (message: DiscordMessage) =>
  (message.components as Array<{ components: Array<{ label: string; custom_id: string }> }>).flatMap((row) => row.components.map((c) => ({ label: c.label, id: c.custom_id })));

let photoBytes: Buffer;
const photoSource = () => ({ label: 'photo 1', declaredBytes: photoBytes.byteLength, read: async () => photoBytes });

/** A bot message as it travels in an update: without the fake's own bookkeeping. */
function stripped(message: object): Record<string, unknown> {
  const { uploaded: _u, history: _h, deleted: _d, ...rest } = message as Record<string, unknown>;
  return rest;
}

export const duplicateEventsScenario: Scenario = {
  id: 8,
  title: 'The same event delivered twice',
  async run({ infra, quick, log }) {
    const h = await openHarness(infra, 'duplicates', { workers: 2, discord: true });
    try {
      const users = userIds(8_000, 20);
      await h.load.consent(users);
      photoBytes = await readFile(new URL('../../../samples/astronaut.jpg', import.meta.url));
      for (const person of people) await agreeToTerms(h.telegram, person);
      const stream = h.load.stream({ ratePerSec: 3, durationMs: quick ? 8_000 : 20_000, users });
      const outcomes = (await Promise.all([...people.map((p) => telegramTwice(h.telegram, p, photoBytes)), discordTwice(h, h.discord!).then((o) => [o])])).flat();
      log(`  ${outcomes.length} events each delivered 2–3 times`);
      await stream;
      await h.settle(60_000);
      await sleep(1_500);
      const tally = await h.tally();
      const jobs = await h.jobs();
      const failures = commonFailures(tally);
      let doubled = 0;
      for (const event of outcomes) {
        const own: JobRow[] = jobs.filter((j) => j.idempotencyKey === event.key);
        const charged = own.reduce((sum, j) => sum - j.net, 0);
        const results = event.results();
        if (own.length !== 1 || charged !== own[0]!.price || results !== 1) {
          doubled += 1;
          failures.push(`${event.what} ${event.key}: ${own.length} jobs, ${charged} credits charged, ${results} result sets`);
        }
      }
      tally.requests += outcomes.length;
      tally.accepted += outcomes.length;
      tally.delivered += outcomes.filter((e) => e.results() > 0).length;
      tally.doubleCharged += doubled;
      const ignored = (await readFile(h.serve.logFile, 'utf8')).split('redelivered update ignored').length - 1;
      return { tally, recoverMs: null, failures, notes: [`${outcomes.length} platform events, each delivered 2–3 times: ${outcomes.length - doubled} made exactly one job, one charge, one result set; the bots process logged ${ignored} ignored Telegram redeliveries`] };
    } finally {
      await h.close();
    }
  },
};
