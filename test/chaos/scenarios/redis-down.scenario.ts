/**
 * 3. Redis down when people submit: each hears "temporarily unavailable" within 3 s and nothing
 * stays reserved; once Redis is back, requests go through again with no process restarted.
 * Asked two ways: through the command layer (the stream), and as a photo sent in Telegram to the
 * real bots process.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ada, agreeToTerms, bob, privateChat, type FakeTelegram, type TgUser } from '../../support/fake-telegram.js';
import { quantile } from '../audit.js';
import { openHarness } from '../harness.js';
import { replyMs, userIds } from '../load.js';
import { commonFailures, type Scenario } from '../scenario.js';

const UNAVAILABLE = /temporarily unavailable/i;
const LIMIT_MS = 3_000;

/** Sends a photo with /portrait as `user`; resolves with ms until the bot's answer to it said `pattern` (or undefined after `timeoutMs`). */
async function askInTelegram(fake: FakeTelegram, user: TgUser, photo: Buffer, pattern: RegExp, timeoutMs: number): Promise<{ ms?: number; text?: string }> {
  const chat = privateChat(user);
  const sentAt = Date.now();
  const { message } = await fake.userSends({ chat, from: user, photo, caption: '/portrait' });
  const answer = () => fake.sentIn(chat.id).find((m) => m.reply_to_message?.message_id === message.message_id && m.text);
  try {
    await fake.waitFor(() => answer()?.history?.some((t) => pattern.test(t)), timeoutMs, 'answer');
    return { ms: Date.now() - sentAt, text: answer()?.text };
  } catch {
    return { text: answer()?.text };
  }
}

export const redisDownScenario: Scenario = {
  id: 3,
  title: 'Redis down when users submit',
  async run({ infra, quick, log }) {
    const h = await openHarness(infra, 'redis-down', { workers: 1 });
    try {
      const users = userIds(3_000, 20);
      await h.load.consent(users);
      const astronaut = await readFile(new URL('../../../samples/astronaut.jpg', import.meta.url));
      for (const person of [ada, bob]) await agreeToTerms(h.telegram, person);
      // One normal request each way first: everything works, and the face model in the bots process is warm.
      await h.load.submit(users[0]!);
      const warm = await askInTelegram(h.telegram, ada, astronaut, /queued|in progress|Done/i, 30_000);
      if (warm.ms === undefined) throw new Error(`the Telegram request before the outage was not answered: ${warm.text}`);
      const pids = h.processes().map((p) => p.pid);

      await infra.redis.kill();
      const downAt = Date.now();
      log('  redis stopped');
      const during = h.load.records.length;
      // Some at once, then a steady trickle, through the command layer; and one photo in Telegram.
      const [telegram] = await Promise.all([
        askInTelegram(h.telegram, bob, astronaut, UNAVAILABLE, 15_000),
        Promise.all(users.slice(0, 10).map((u) => h.load.submit(u))),
        h.load.stream({ ratePerSec: 4, durationMs: quick ? 4_000 : 10_000, users }),
      ]);
      const outage = h.load.records.slice(during);
      await infra.redis.start();
      const upAt = Date.now();
      log(`  redis back after ${((upAt - downAt) / 1000).toFixed(1)} s`);

      // Recovery: the first request after Redis is back that reaches its chat.
      let recoverMs: number | undefined;
      for (let i = 0; i < 60 && recoverMs === undefined; i++) {
        const record = await h.load.submit(users[i % users.length]!);
        if (record.jobId) {
          const chat = await h.telegram.waitFor(() => h.deliveries.byChat().get(record.chatId)?.albums[0], 30_000, 'first result after the outage').catch(() => undefined);
          if (chat !== undefined) recoverMs = chat - upAt;
        } else await sleep(500);
      }
      await h.settle(60_000);
      const tally = await h.tally();
      const failures = commonFailures(tally);
      const slow = outage.filter((r) => !(replyMs(r) <= LIMIT_MS));
      const wrong = outage.filter((r) => r.code !== 'SERVICE_UNAVAILABLE');
      if (wrong.length > 0) failures.push(`${wrong.length} of ${outage.length} requests during the outage were not told "temporarily unavailable" (${[...new Set(wrong.map((r) => r.code ?? 'accepted'))].join(', ')})`);
      if (slow.length > 0) failures.push(`${slow.length} of ${outage.length} answers took over ${LIMIT_MS / 1000} s (slowest ${(Math.max(...outage.map(replyMs)) / 1000).toFixed(1)} s)`);
      if (telegram.ms === undefined || telegram.ms > LIMIT_MS) failures.push(`Telegram: the person was not told "temporarily unavailable" within ${LIMIT_MS / 1000} s (${telegram.ms ?? 'never'} ms; last said: ${telegram.text ?? 'nothing'})`);
      const { rows } = await h.app.database.pool.query(`select count(*)::int as n from jobs where status in ('queued', 'running')`);
      if (rows[0].n > 0) failures.push(`${rows[0].n} jobs left queued or running`);
      if (recoverMs === undefined) failures.push('no request succeeded after Redis came back');
      const restarted = h.processes().filter((p, i) => p.pid !== pids[i] || !p.alive);
      if (restarted.length > 0) failures.push(`${restarted.map((p) => p.name).join(', ')} did not survive the outage`);
      const times = outage.map(replyMs);
      return {
        tally,
        recoverMs,
        failures,
        notes: [
          `during the outage: ${outage.length} requests answered in p50 ${quantile(times, 0.5)} ms, max ${Math.max(...times)} ms; Telegram photo answered in ${telegram.ms ?? '-'} ms`,
        ],
      };
    } finally {
      await h.close();
    }
  },
};
