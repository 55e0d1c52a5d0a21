/**
 * Intake under attack (issue 21): 20 hostile uploads (issue 21's HEIC grid bomb and 16-bit PNG,
 * alternately, each a /portrait from a different attacker) arrive at once with 50 ordinary people
 * sending /portrait with one photo each; beside the same 50 people with no attack, in the same
 * run. Through the real Discord front-end against the fake Discord in a child process of its own,
 * which times, as Discord would see them, each person's first reply (the interaction's
 * acknowledgement, Discord's 3 s deadline) and the answer (the reply edited to "queued — position
 * N", or why not). The bots process is this one, with the production intake (4 at a time,
 * INTAKE_MAX_WAITING 64, PHOTO_REQUESTS_PER_10_MIN 10): its resident memory and longest
 * event-loop stall are sampled while each burst is handled, the HEIC decoders' peak from /proc.
 */
import { availableParallelism, loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { createApp } from '../src/app.js';
import { createDiscordFrontend } from '../src/bots/discord/index.js';
import { loadConfig } from '../src/config.js';
import { heicProcessStats } from '../src/images/heic-process.js';
import { createLogger } from '../src/logger.js';
import { fakeDiscordProcess, type Burst } from './discord-ack.js';
import type { HostileFile } from './fake-discord.child.js';
import type { BenchInfra } from './infra.js';
import { REDIS_URL } from './infra.js';
import { fmt, median, quantile, table } from './stats.js';
import { startStallProbe } from '../test/support/stall-probe.js';

export interface IntakeAttackOptions {
  /** Ordinary people, one /portrait with one photo each (default 50). */
  people: number;
  /** Hostile uploads arriving with them, HEIC bomb and 16-bit PNG alternately (default 20). */
  bombs: number;
  /** Pairs of bursts, without and with the attack (default 2): the machine is shared. */
  rounds: number;
  /** How long a burst may take to be answered in full. */
  settleMs: number;
}

export const DEFAULT_INTAKE_ATTACK: IntakeAttackOptions = { people: 50, bombs: 20, rounds: 2, settleMs: 240_000 };
export const QUICK_INTAKE_ATTACK: IntakeAttackOptions = { people: 20, bombs: 8, rounds: 1, settleMs: 120_000 };

/** From the issue: the ordinary people's time to a first reply at most 1.5x the run without bombs, and no 3 s deadline missed; memory bounded (here: at most 1.5x). */
export const INTAKE_ATTACK_TARGETS = { firstReplyRatio: 1.5, deadlineMs: 3_000, rssRatio: 1.5 };

/** One burst, as the ordinary people and the attackers lived it, and what it cost this process. */
export interface AttackBurstFigures {
  /** Ordinary people: dispatch → acknowledgement (ms). */
  firstReply: { p50Ms: number; p99Ms: number; maxMs: number };
  /** Ordinary people: dispatch → the reply edited with the outcome (ms). */
  answer: { p50Ms: number; p99Ms: number; maxMs: number; answered: number };
  /** Ordinary people acknowledged after 3 s, or never. */
  missed: number;
  /** Attackers acknowledged after 3 s, or never (Discord's deadline is theirs too). */
  attackersMissed: number;
  outcomes: Record<string, number>;
  attackOutcomes: Record<string, number>;
  /** This process (the bots process) while the burst was handled: resident memory at its peak (sampled every 20 ms). */
  peakRssMb: number;
  /** The most one HEIC decoder process used (0 where none ran). */
  decoderPeakRssMb: number;
  /** Longest gap between 10 ms timer ticks, beyond the 10 ms. */
  maxStallMs: number;
  /** First dispatch to the last answer. */
  wallMs: number;
}

export interface IntakeAttackResult {
  options: IntakeAttackOptions;
  machine: { cores: number; loadBefore: number };
  baseline: AttackBurstFigures[];
  attack: AttackBurstFigures[];
  /** Per round: attack over baseline, ordinary people's p50 and p99 first reply and answer, and peak RSS. */
  ratios: Array<{ firstReplyP50: number; firstReplyP99: number; answerP50: number; answerP99: number; peakRss: number }>;
  targets: { firstReply: { target: string; met: boolean }; deadlines: { target: string; met: boolean }; rss: { target: string; met: boolean } };
}

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const hostileFiles: HostileFile[] = ['heic-bomb', 'png16'];

function outcomeKey(text: string, answered: boolean): string {
  if (!answered) return 'not answered in time';
  if (/queued — position|in progress/.test(text)) return 'queued';
  if (/takes too much work/.test(text)) return 'refused: too costly';
  if (/Many people are sending photos/.test(text)) return 'refused: busy';
  return text.slice(0, 40);
}

function tally(keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of keys) out[key] = (out[key] ?? 0) + 1;
  return out;
}

/** The burst's figures: attackers are the first `burst.attackers` entries. */
function figuresOf(burst: Burst, probe: { peakRssMb: number; maxStallMs: number; wallMs: number }): AttackBurstFigures {
  const ordinary = (values: number[]) => values.slice(burst.attackers);
  const acks = ordinary(burst.acks).filter((ms) => ms >= 0);
  const answers = ordinary(burst.answers).filter((ms) => ms >= 0);
  const late = (values: number[]) => values.filter((ms) => ms < 0 || ms > INTAKE_ATTACK_TARGETS.deadlineMs).length;
  const keys = burst.outcomes.map((text, i) => outcomeKey(text, burst.answers[i]! >= 0));
  return {
    firstReply: { p50Ms: quantile(acks, 0.5), p99Ms: quantile(acks, 0.99), maxMs: acks.length ? Math.max(...acks) : Number.NaN },
    answer: { p50Ms: quantile(answers, 0.5), p99Ms: quantile(answers, 0.99), maxMs: answers.length ? Math.max(...answers) : Number.NaN, answered: answers.length },
    missed: late(ordinary(burst.acks)),
    attackersMissed: late(burst.acks.slice(0, burst.attackers)),
    outcomes: tally(keys.slice(burst.attackers)),
    attackOutcomes: tally(keys.slice(0, burst.attackers)),
    decoderPeakRssMb: heicProcessStats.peakRssBytes / 2 ** 20,
    ...probe,
  };
}

/** Samples this process while `work` runs: peak RSS (every 20 ms) and the longest event-loop stall. */
async function probed<T>(work: () => Promise<T>): Promise<{ result: T; peakRssMb: number; maxStallMs: number; wallMs: number }> {
  let peakRss = process.memoryUsage.rss();
  const stall = startStallProbe();
  const rss = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 20);
  const started = performance.now();
  try {
    const result = await work();
    return { result, peakRssMb: peakRss / 2 ** 20, maxStallMs: stall.longestMs, wallMs: performance.now() - started };
  } finally {
    stall.stop();
    clearInterval(rss);
  }
}

/** Alternates a burst of ordinary people alone and one with the attack, on one bots process and one fake Discord. */
export async function benchIntakeAttack(infra: BenchInfra, options: IntakeAttackOptions = DEFAULT_INTAKE_ATTACK): Promise<IntakeAttackResult> {
  const loadBefore = loadavg()[0]!;
  const fake = await fakeDiscordProcess();
  const config = loadConfig({
    DATABASE_URL: infra.databaseUrl,
    REDIS_URL,
    QUEUE_PREFIX: `${infra.queuePrefix}-i`,
    DATA_DIR: infra.dataDir,
    GPU_BACKEND: 'instant',
    LOG_LEVEL: 'silent',
    DISCORD_TOKEN: fake.token,
    DISCORD_API_BASE: fake.apiBase,
    ATTACHMENT_HOSTS: fake.cdnHost,
    // The intake's production limits (PHOTO_REQUESTS_PER_10_MIN, INTAKE_MAX_WAITING) are left as they are.
  });
  const logger = createLogger({ level: 'silent' });
  const app = createApp(config, logger);
  const redis = new Redis(REDIS_URL);
  const frontend = createDiscordFrontend({ app, config, logger, redis, tuning: { allowPrivateAttachmentAddresses: true } });
  const baseline: AttackBurstFigures[] = [];
  const attack: AttackBurstFigures[] = [];
  try {
    await frontend.start();
    const rounds = Array.from({ length: options.rounds }, (_, r) => ({
      baseline: names(`i${r}b`, options.people),
      attack: names(`i${r}a`, options.people),
      attackers: names(`i${r}x`, options.bombs).map((name, i) => ({ name, file: hostileFiles[i % hostileFiles.length]! })),
    }));
    const warm = names('iwarm', 3);
    const everyone = [...warm, ...rounds.flatMap((r) => [...r.baseline, ...r.attack, ...r.attackers.map((a) => a.name)])];
    const ids = await fake.users(everyone);
    // Everyone has accepted the terms already: the bursts are of photo work, not of consent cards.
    for (let i = 0; i < ids.length; i += 50) {
      await Promise.all(
        ids.slice(i, i + 50).map((id) =>
          app.commands.handle({ platform: 'discord', eventId: `consent-${id}`, user: { id }, conversation: { platform: 'discord', chatId: fake.channelId }, command: 'consent' }),
        ),
      );
    }
    for (const name of warm) await fake.burst('portrait', [name], 30_000, true);
    // One HEIC bomb alone first, so the decoder's first start is not in the figures.
    await fake.burst('portrait', [], 60_000, true, [{ name: 'iwarm-bomb', file: 'heic-bomb' }]);

    for (const round of rounds) {
      heicProcessStats.peakRssBytes = 0;
      const quiet = await probed(() => fake.burst('portrait', round.baseline, options.settleMs, true));
      baseline.push(figuresOf(quiet.result, quiet));
      heicProcessStats.peakRssBytes = 0;
      const noisy = await probed(() => fake.burst('portrait', round.attack, options.settleMs, true, round.attackers));
      attack.push(figuresOf(noisy.result, noisy));
    }
  } finally {
    await frontend.stop();
    await app.close();
    await fake.close();
    redis.disconnect();
  }
  const ratios = baseline.map((b, i) => {
    const a = attack[i]!;
    return {
      firstReplyP50: a.firstReply.p50Ms / b.firstReply.p50Ms,
      firstReplyP99: a.firstReply.p99Ms / b.firstReply.p99Ms,
      answerP50: a.answer.p50Ms / b.answer.p50Ms,
      answerP99: a.answer.p99Ms / b.answer.p99Ms,
      peakRss: a.peakRssMb / b.peakRssMb,
    };
  });
  const firstReplyRatio = median(ratios.map((r) => r.firstReplyP99));
  const missed = attack.reduce((n, a) => n + a.missed + a.attackersMissed, 0) + baseline.reduce((n, b) => n + b.missed, 0);
  return {
    options,
    machine: { cores: availableParallelism(), loadBefore },
    baseline,
    attack,
    ratios,
    targets: {
      firstReply: { target: `p99 <= ${INTAKE_ATTACK_TARGETS.firstReplyRatio}x without bombs`, met: firstReplyRatio <= INTAKE_ATTACK_TARGETS.firstReplyRatio },
      deadlines: { target: '0 missed', met: missed === 0 },
      rss: { target: `peak <= ${INTAKE_ATTACK_TARGETS.rssRatio}x without bombs`, met: Math.max(...ratios.map((r) => r.peakRss)) <= INTAKE_ATTACK_TARGETS.rssRatio },
    },
  };
}

/** The figures as a plain-text table. */
export function printIntakeAttack(r: IntakeAttackResult): void {
  const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  const mid = (list: AttackBurstFigures[], pick: (f: AttackBurstFigures) => number) => median(list.map(pick));
  const both = (pick: (f: AttackBurstFigures) => number, digits = 0) => [fmt(mid(r.baseline, pick), digits), fmt(mid(r.attack, pick), digits)];
  const ratio = (pick: (x: IntakeAttackResult['ratios'][number]) => number) => `${fmt(median(r.ratios.map(pick)), 2)}x`;
  const { people, bombs, rounds } = r.options;
  const out: string[] = [];
  out.push(`(i) Intake under attack: ${bombs} hostile uploads (HEIC grid bomb and 16-bit PNG, alternately) at once with ${people} ordinary /portrait, one photo each`);
  out.push(`    beside the same ${people} people alone; ${rounds} round(s), medians; Discord front-end, fake Discord in a child process; production intake limits`);
  out.push(`    machine: ${r.machine.cores} cores, 1-minute load ${fmt(r.machine.loadBefore, 1)} before the run`);
  out.push('');
  out.push(
    table([
      ['ordinary people', 'without bombs', 'with bombs', 'ratio', 'target', ''],
      ['first reply (acknowledgement) p50 (ms)', ...both((f) => f.firstReply.p50Ms, 1), ratio((x) => x.firstReplyP50), '', ''],
      ['first reply p99 (ms)', ...both((f) => f.firstReply.p99Ms, 1), ratio((x) => x.firstReplyP99), r.targets.firstReply.target, mark(r.targets.firstReply.met)],
      ['first reply max (ms)', ...both((f) => f.firstReply.maxMs, 1), '', '', ''],
      ['missed 3 s deadlines (people / attackers)', `${r.baseline.reduce((n, f) => n + f.missed, 0)} / -`, `${r.attack.reduce((n, f) => n + f.missed, 0)} / ${r.attack.reduce((n, f) => n + f.attackersMissed, 0)}`, '', r.targets.deadlines.target, mark(r.targets.deadlines.met)],
      ['answer ("queued…") p50 (ms)', ...both((f) => f.answer.p50Ms), ratio((x) => x.answerP50), '(reported)', ''],
      ['answer p99 (ms)', ...both((f) => f.answer.p99Ms), ratio((x) => x.answerP99), '(reported)', ''],
      ['answer max (ms)', ...both((f) => f.answer.maxMs), '', '', ''],
      ['bots process peak RSS (MB)', ...both((f) => f.peakRssMb), ratio((x) => x.peakRss), r.targets.rss.target, mark(r.targets.rss.met)],
      ['HEIC decoder peak RSS, per process (MB)', ...both((f) => f.decoderPeakRssMb), '', '', ''],
      ['longest event-loop stall (ms)', ...both((f) => f.maxStallMs), '', '', ''],
      ['burst, first dispatch to last answer (ms)', ...both((f) => f.wallMs), '', '', ''],
    ]),
  );
  const outcomes = (list: AttackBurstFigures[], pick: (f: AttackBurstFigures) => Record<string, number>) =>
    list.map((f) => Object.entries(pick(f)).map(([k, n]) => `${k}: ${n}`).join(', ')).join(' | ');
  out.push(`    ordinary people's outcomes, without bombs: ${outcomes(r.baseline, (f) => f.outcomes)}`);
  out.push(`    ordinary people's outcomes, with bombs:    ${outcomes(r.attack, (f) => f.outcomes)}`);
  out.push(`    attackers' outcomes:                       ${outcomes(r.attack, (f) => f.attackOutcomes)}`);
  console.log(out.join('\n'));
}
