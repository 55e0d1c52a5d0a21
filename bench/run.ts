/**
 * `npm run bench`: (a) orchestration overhead per job with the instant GPU backend, beside a bare
 * BullMQ round trip; (b) photo normalization of a 12 MP JPEG, beside a bare sharp resize.
 * Every ratio is against a baseline measured in the same run, because the machine is shared.
 *
 *   npm run bench                 both sections, plain-text tables
 *   npm run -s bench -- --json    the same figures as one JSON object (-s: no npm banner)
 *   npm run bench -- --only a     one section: a orchestration, b normalize, c images (face check, 8K encode-to-fit),
 *                                 d GPU utilisation over fake Cog endpoints, e Discord acknowledgement latency,
 *                                 f likeness (embedding per face, the gate's share of a local portrait job),
 *                                 g local 8K upscale (ESRGAN on onnxruntime vs tfjs vs lanczos; the Docker image's size)
 *                                 h hostile decodes (issue 21's HEIC grid bomb and 16-bit PNG, old path beside now)
 *                                 i intake under attack (20 bomb uploads with 50 ordinary /portrait, beside the 50 alone)
 *   npm run bench -- --quick      shorter windows (a smoke run, noisier figures)
 *   npm run bench -- --data-root /dev/shm
 *                                 where the fs artifact store's DATA_DIR is made (default: the OS temp folder)
 */
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { createInfra, type BenchInfra } from './infra.js';
import { installProbes } from './instrument.js';
import { benchNormalize, DEFAULT_NORMALIZE, type NormalizeResult } from './normalize.js';
import { benchOrchestration, DEFAULT_ORCHESTRATION, type OrchestrationResult, type PerJob } from './orchestration.js';
import { benchDiscordAck, DEFAULT_DISCORD_ACK, printDiscordAck, type DiscordAckResult } from './discord-ack.js';
import { benchGpuUtilisation, DEFAULT_GPU_UTILISATION, printGpuUtilisation, QUICK_GPU_UTILISATION, type GpuUtilisationResult } from './gpu-utilisation.js';
import { benchImages, DEFAULT_IMAGES_BENCH, printImages, type ImagesBenchResult } from './images.js';
import { benchHostileDecode, printHostileDecode, type HostileDecodeResult } from './hostile-decode.js';
import { benchIntakeAttack, DEFAULT_INTAKE_ATTACK, printIntakeAttack, QUICK_INTAKE_ATTACK, type IntakeAttackResult } from './intake-attack.js';
import { benchLikenessGate, DEFAULT_LIKENESS_BENCH, printLikenessGate, QUICK_LIKENESS_BENCH, type LikenessBenchResult } from './likeness.js';
import { fmt, ratio, table } from './stats.js';
import { benchUpscale, DEFAULT_UPSCALE_BENCH, printUpscale, type UpscaleBenchResult } from './upscale.js';

const SECTIONS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
const TARGETS = { p50Ms: 5, p50VsBare: 4, jobsPerSec: 500 };

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'data-root': { type: 'string' },
  },
});

const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');

function summarizeA(a: OrchestrationResult) {
  const { bare, likeness } = a;
  return {
    bare: { p50Ms: bare.sequential.p50, p99Ms: bare.sequential.p99, jobsPerSec: bare.throughput.jobsPerSec },
    likeness: {
      p50Ms: likeness.sequential.p50,
      p99Ms: likeness.sequential.p99,
      jobsPerSec: likeness.throughput.jobsPerSec,
      cpuCeilingJobsPerSec: cpuCeiling(likeness.throughput.perJob),
    },
    ratios: {
      p50: ratio(likeness.sequential.p50, bare.sequential.p50),
      p99: ratio(likeness.sequential.p99, bare.sequential.p99),
      jobsPerSec: ratio(likeness.throughput.jobsPerSec, bare.throughput.jobsPerSec),
    },
    targets: {
      p50Ms: { target: `<= ${TARGETS.p50Ms} ms`, met: likeness.sequential.p50 <= TARGETS.p50Ms },
      p50VsBare: { target: `<= ${TARGETS.p50VsBare}x bare`, met: ratio(likeness.sequential.p50, bare.sequential.p50) <= TARGETS.p50VsBare },
      jobsPerSec: { target: `>= ${TARGETS.jobsPerSec} jobs/s`, met: likeness.throughput.jobsPerSec >= TARGETS.jobsPerSec },
    },
  };
}

/** Jobs/s the machine could do if CPU were the only limit: cores over the CPU ms one job costs everywhere. */
function cpuCeiling(p: PerJob, cores = availableParallelism()): number {
  const ms = p.nodeCpuMs + (p.postgresCpuMs ?? 0) + (p.redisCpuMs ?? 0);
  return ms > 0 ? (cores * 1000) / ms : Number.NaN;
}

function perJobRows(label: string, p: PerJob): string[] {
  return [
    label,
    fmt(p.pgQueries, 1),
    fmt(p.redisTrips, 1),
    fmt(p.nodeCpuMs, 2),
    `${fmt(p.postgresCpuMs, 2)} / ${fmt(p.postgresServerCpuMs, 2)}`,
    fmt(p.redisCpuMs, 2),
    fmt(cpuCeiling(p), 0),
  ];
}

function printA(a: OrchestrationResult): void {
  const s = summarizeA(a);
  const { bare, likeness } = a;
  const out: string[] = [];
  out.push('(a) Orchestration overhead per job (instant GPU backend, delay 0)');
  out.push(`    Likeness request: ${likeness.request}`);
  for (const note of [...bare.notes.map((n) => `bare: ${n}`), ...likeness.notes.map((n) => `likeness: ${n}`)]) out.push(`    ${note}`);
  out.push('');
  out.push(
    table([
      ['', 'bare BullMQ', 'Likeness', 'ratio', 'target', ''],
      ['p50 latency, sequential (ms)', fmt(s.bare.p50Ms), fmt(s.likeness.p50Ms), `${fmt(s.ratios.p50, 1)}x`, `<= ${TARGETS.p50Ms} ms, <= ${TARGETS.p50VsBare}x`, `${mark(s.targets.p50Ms.met)} / ${mark(s.targets.p50VsBare.met)}`],
      ['p99 latency, sequential (ms)', fmt(s.bare.p99Ms), fmt(s.likeness.p99Ms), `${fmt(s.ratios.p99, 1)}x`, '', ''],
      ['throughput, end to end (jobs/s)', fmt(s.bare.jobsPerSec, 0), fmt(s.likeness.jobsPerSec, 0), `${fmt(s.ratios.jobsPerSec, 2)}x`, `>= ${TARGETS.jobsPerSec} jobs/s`, mark(s.targets.jobsPerSec.met)],
      ['', '', '', '', '', ''],
      ['sequential samples', String(bare.sequential.n), String(likeness.sequential.n), '', '', ''],
      ['p90 / max sequential (ms)', `${fmt(bare.sequential.p90)} / ${fmt(bare.sequential.max)}`, `${fmt(likeness.sequential.p90)} / ${fmt(likeness.sequential.max)}`, '', '', ''],
      [`under load: p50 / p99 latency (ms)`, `${fmt(bare.throughput.latency.p50)} / ${fmt(bare.throughput.latency.p99)}`, `${fmt(likeness.throughput.latency.p50)} / ${fmt(likeness.throughput.latency.p99)}`, '', '', ''],
      ['under load: jobs in window / errors', `${bare.throughput.jobs} / ${bare.throughput.errors}`, `${likeness.throughput.jobs} / ${likeness.throughput.errors}`, '', '', ''],
    ]),
  );
  if (likeness.throughput.firstError) out.push(`    first error: ${likeness.throughput.firstError}`);
  if (bare.throughput.firstError) out.push(`    first bare error: ${bare.throughput.firstError}`);
  out.push('');
  out.push(`  Cost per job (under load: ${bare.throughput.lanes} in flight, ${fmt(bare.throughput.windowS, 1)} s window; census: one job at a time). CPU from /proc;`);
  out.push(`  "CPU ceiling" = ${availableParallelism()} cores / (node + postgres db + redis CPU per job):`);
  out.push(
    table([
      ['', 'pg queries', 'redis trips', 'node CPU ms', 'postgres CPU ms (db / server)', 'redis CPU ms', 'CPU ceiling jobs/s'],
      perJobRows('bare BullMQ', bare.throughput.perJob),
      perJobRows('Likeness', likeness.throughput.perJob),
      perJobRows('Likeness, sequential census', likeness.census.cpu),
    ]),
  );
  const cpu = likeness.throughput.cpu;
  const busy = (ms?: number) => (ms === undefined ? '-' : `${fmt((100 * ms) / cpu.wallMs, 0)}%`);
  out.push(
    `    Likeness window CPU use (100% = one core): node ${busy(cpu.nodeMs)}, postgres ${busy(cpu.postgresOwnMs)} (server ${busy(cpu.postgresMs)}), redis ${busy(cpu.redisMs)}; ${availableParallelism()} cores`,
  );
  out.push('');
  out.push('  Where a sequential Likeness job spends its time (ms; * = beside or after the latency path):');
  out.push(table([['phase', 'p50', 'mean'], ...likeness.phases.map((p) => [`${p.offPath ? '* ' : ''}${p.name}`, fmt(p.p50), fmt(p.mean)])]));
  out.push('');
  const c = likeness.census;
  out.push(
    `  Round trips per Likeness job (census of ${c.jobs} sequential jobs): ${fmt(c.pgQueriesPerJob, 1)} pg queries (${fmt(c.pgWireMsPerJob)} ms on the wire), ` +
      `${fmt(c.redisTripsPerJob, 1)} redis trips (${fmt(c.redisWireMsPerJob)} ms, blocking waits excluded)`,
  );
  out.push(table([['postgres statement', 'per job', 'ms/job'], ...c.pg.map((r) => [r.label, fmt(r.perJob, 2), fmt(r.msPerJob, 2)])]));
  out.push('');
  out.push(table([['redis: command or BullMQ script', 'per job', 'ms/job'], ...c.redis.map((r) => [r.label, fmt(r.perJob, 2), fmt(r.msPerJob, 2)])]));
  console.log(out.join('\n'));
}

function printB(b: NormalizeResult): void {
  const out: string[] = [];
  out.push('(b) Photo normalization of a 12 MP JPEG');
  out.push(
    `    input: ${b.input.width}x${b.input.height} JPEG q92, ${fmt(b.input.bytes / 1024 / 1024, 2)} MB, EXIF orientation ${b.input.orientation ?? '-'}; ` +
      `normalizePhoto output: ${b.output.width}x${b.output.height}, ${fmt(b.output.bytes / 1024, 0)} KB; ${b.runs} interleaved runs each`,
  );
  out.push('');
  out.push(
    table([
      ['', 'median ms', 'min ms', 'max ms', 'ratio'],
      ['bare sharp resize(2048, inside).jpeg()', fmt(b.bareMs.median, 1), fmt(b.bareMs.min, 1), fmt(b.bareMs.max, 1), '1.00x'],
      ['normalizePhoto', fmt(b.normalizeMs.median, 1), fmt(b.normalizeMs.min, 1), fmt(b.normalizeMs.max, 1), `${fmt(b.ratio, 2)}x`],
    ]),
  );
  if (b.diagnostics.length > 0) {
    out.push('');
    out.push('  Ingredients of normalizePhoto, one at a time on top of the bare resize (median ms):');
    out.push(table([['variant', 'median ms', 'vs bare'], ...b.diagnostics.map((d) => [d.name, fmt(d.medianMs, 1), `${fmt(d.medianMs / b.bareMs.median, 2)}x`])]));
  }
  console.log(out.join('\n'));
}

async function main(): Promise<void> {
  const only = args.only?.toLowerCase();
  if (only && !SECTIONS.includes(only)) throw new Error(`--only takes one of ${SECTIONS.join(', ')}`);
  const runs = (section: string) => !only || only === section;
  const orchestration = args.quick ? { ...DEFAULT_ORCHESTRATION, sequentialJobs: 100, sequentialBudgetMs: 2_000, rampMs: 500, windowMs: 2_000, censusJobs: 10 } : DEFAULT_ORCHESTRATION;
  const normalize = args.quick ? { runs: 3, diagnosticRuns: 1 } : DEFAULT_NORMALIZE;
  installProbes();

  const started = performance.now();
  let infra: BenchInfra | undefined;
  const onSignal = () => {
    void (infra?.cleanup() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let a: OrchestrationResult | undefined;
  let b: NormalizeResult | undefined;
  let c: ImagesBenchResult | undefined;
  let d: GpuUtilisationResult | undefined;
  let e: DiscordAckResult | undefined;
  let f: LikenessBenchResult | undefined;
  let g: UpscaleBenchResult | undefined;
  let h: HostileDecodeResult | undefined;
  let i: IntakeAttackResult | undefined;
  try {
    if (runs('a') || runs('e') || runs('i')) infra = await createInfra({ dataRoot: args['data-root'] });
    if (runs('a')) a = await benchOrchestration(infra!, orchestration);
    if (runs('e')) e = await benchDiscordAck(infra!, args.quick ? { burst: 100, warmup: 5, settleMs: 60_000 } : DEFAULT_DISCORD_ACK);
    if (runs('i')) i = await benchIntakeAttack(infra!, args.quick ? QUICK_INTAKE_ATTACK : DEFAULT_INTAKE_ATTACK);
  } finally {
    await infra?.cleanup();
  }
  if (runs('b')) b = await benchNormalize(normalize);
  if (runs('c')) c = await benchImages(args.quick ? { runs: 2 } : DEFAULT_IMAGES_BENCH);
  if (runs('d')) d = await benchGpuUtilisation(args.quick ? QUICK_GPU_UTILISATION : DEFAULT_GPU_UTILISATION, { dataRoot: args['data-root'] });
  if (runs('f')) f = await benchLikenessGate(args.quick ? QUICK_LIKENESS_BENCH : DEFAULT_LIKENESS_BENCH, { dataRoot: args['data-root'] });
  if (runs('g')) g = await benchUpscale(args.quick ? { ...DEFAULT_UPSCALE_BENCH, runs: 1 } : DEFAULT_UPSCALE_BENCH);
  if (runs('h')) h = await benchHostileDecode();
  const seconds = (performance.now() - started) / 1000;

  const machine = `${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}, node ${process.version}`;
  if (args.json) {
    console.log(
      JSON.stringify(
        {
          machine,
          seconds,
          orchestration: a ? { summary: summarizeA(a), ...a } : undefined,
          normalize: b,
          images: c,
          gpuUtilisation: d,
          discordAck: e,
          likeness: f,
          upscale: g,
          hostileDecode: h,
          intakeAttack: i,
        },
        (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value),
        2,
      ),
    );
    return;
  }
  console.log(`Likeness bench: ${machine}\n`);
  const printers = [
    a && (() => printA(a)),
    b && (() => printB(b)),
    c && (() => printImages(c)),
    d && (() => printGpuUtilisation(d)),
    e && (() => printDiscordAck(e)),
    f && (() => printLikenessGate(f)),
    g && (() => printUpscale(g)),
    h && (() => printHostileDecode(h)),
    i && (() => printIntakeAttack(i)),
  ];
  printers.filter(Boolean).forEach((print, n) => {
    if (n > 0) console.log('');
    (print as () => void)();
  });
  console.log(`\n(bench took ${fmt(seconds, 1)} s)`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
