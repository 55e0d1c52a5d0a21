/**
 * (g) The local 8K upscale of a 1024 x 1280 portrait (long edge 1280 -> 7680): ESRGAN on
 * onnxruntime in the model pool's threads (what Likeness runs) beside ESRGAN on tfjs-wasm in
 * process (what it ran before; bench/esrgan-tfjs.ts), both in the same run, then beside lanczos
 * (LOCAL_SUPER_RESOLUTION=lanczos). Each figure is the whole upscale (model 4x, lanczos to 7680,
 * JPEG) with the process CPU it cost (all threads). The two ESRGAN outputs (4x, before lanczos)
 * are compared: largest channel difference, share of values that differ, PSNR.
 * Targets: onnxruntime >= 4x faster than tfjs, outputs within the tolerance of
 * test/integration/super-resolution.test.ts (max 2, < 1 % of values, >= 50 dB).
 *
 * Also prints the size of the `likeness:local` Docker image when `docker` can see it.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { closeFaceModels, upscaleToLongEdge } from '../src/images/index.js';
import { superResolve, type RgbImage } from '../src/images/super-resolution.js';
import { fmt, median, nowMs, table } from './stats.js';

export interface UpscaleBenchOptions {
  /** Timed runs of the onnxruntime and lanczos paths (tfjs runs once: ~40 s or more). */
  runs: number;
  /** Run the tfjs baseline too (needs the @tensorflow packages). */
  tfjs: boolean;
}

export const DEFAULT_UPSCALE_BENCH: UpscaleBenchOptions = { runs: 3, tfjs: true };
export const UPSCALE_TARGETS = { onnxVsTfjs: 4, maxAbsDiff: 2, changedFraction: 0.01, minPsnrDb: 50 };
const LONG_EDGE = 7680;

interface Timing {
  wallMs: number;
  cpuMs: number;
}

export interface UpscaleBenchResult {
  input: string;
  onnx: { wallMs: number[]; cpuMs: number[]; superResolveMs: number };
  lanczos: { wallMs: number[]; cpuMs: number[] };
  tfjs?: { wallMs: number; cpuMs: number; superResolveMs: number };
  /** onnxruntime's 4x output against tfjs's. */
  difference?: { maxAbsDiff: number; changedFraction: number; psnrDb: number };
  imageBytes?: number;
}

async function timed<T>(task: () => Promise<T>): Promise<Timing & { value: T }> {
  const cpu = process.cpuUsage();
  const started = nowMs();
  const value = await task();
  const spent = process.cpuUsage(cpu);
  return { wallMs: nowMs() - started, cpuMs: (spent.user + spent.system) / 1000, value };
}

/** The sample portrait as a 1024 x 1280 JPEG (what a local portrait result looks like). */
export async function makePortrait(): Promise<Buffer> {
  const photo = await readFile(new URL('../samples/astronaut.jpg', import.meta.url));
  return sharp(photo).resize(1024, 1280, { fit: 'cover', kernel: 'lanczos3' }).jpeg({ quality: 92 }).toBuffer();
}

/** What upscaleToLongEdge does after the model: lanczos to the long edge, then JPEG. */
async function finish(enlarged: RgbImage): Promise<Buffer> {
  return sharp(enlarged.data, { raw: { width: enlarged.width, height: enlarged.height, channels: 3 } })
    .resize({ height: LONG_EDGE, kernel: 'lanczos3' })
    .jpeg({ quality: 90 })
    .toBuffer();
}

function compare(a: Uint8Array, b: Uint8Array) {
  let max = 0;
  let changed = 0;
  let squares = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > max) max = d;
    if (d > 0) changed++;
    squares += d * d;
  }
  const mse = squares / a.length;
  return { maxAbsDiff: max, changedFraction: changed / a.length, psnrDb: mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / mse) };
}

/** The size of the likeness:local image, when docker is installed and has it. */
export async function dockerImageBytes(tag = 'likeness:local'): Promise<number | undefined> {
  try {
    const { stdout } = await promisify(execFile)('docker', ['image', 'inspect', '-f', '{{.Size}}', tag], { timeout: 10_000 });
    return Number(stdout.trim()) || undefined;
  } catch {
    return undefined;
  }
}

export async function benchUpscale(opts: UpscaleBenchOptions): Promise<UpscaleBenchResult> {
  const portrait = await makePortrait();
  const budget = { budgetMs: 3_600_000 };
  // Warm-up: starts the pool's threads and opens a session in each.
  await upscaleToLongEdge(await sharp(portrait).resize(256).toBuffer(), 1024, { superResolution: budget });

  const onnxSr = await superResolve(portrait, budget);
  const onnxSrMs = (await timed(() => superResolve(portrait, budget))).wallMs;
  const result: UpscaleBenchResult = {
    input: '1024 x 1280 JPEG (samples/astronaut.jpg, cover) -> long edge 7680',
    onnx: { wallMs: [], cpuMs: [], superResolveMs: onnxSrMs },
    lanczos: { wallMs: [], cpuMs: [] },
  };
  for (let i = 0; i < opts.runs; i++) {
    const onnx = await timed(() => upscaleToLongEdge(portrait, LONG_EDGE, { superResolution: budget }));
    if (onnx.value.method !== 'esrgan') throw new Error('the onnxruntime path fell back to lanczos');
    result.onnx.wallMs.push(onnx.wallMs);
    result.onnx.cpuMs.push(onnx.cpuMs);
    const lanczos = await timed(() => upscaleToLongEdge(portrait, LONG_EDGE, { superResolution: false }));
    result.lanczos.wallMs.push(lanczos.wallMs);
    result.lanczos.cpuMs.push(lanczos.cpuMs);
  }

  if (opts.tfjs) {
    const { superResolveTfjs } = await import('./esrgan-tfjs.js');
    await superResolveTfjs(await sharp(portrait).resize(64).toBuffer(), budget); // loads tfjs and compiles its kernels
    const sr = await timed(() => superResolveTfjs(portrait, budget));
    const done = await timed(() => finish(sr.value!));
    result.tfjs = { wallMs: sr.wallMs + done.wallMs, cpuMs: sr.cpuMs + done.cpuMs, superResolveMs: sr.wallMs };
    result.difference = compare(onnxSr!.data, sr.value!.data);
  }
  await closeFaceModels();
  result.imageBytes = await dockerImageBytes();
  return result;
}

export function printUpscale(r: UpscaleBenchResult): void {
  const mark = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const onnxMs = median(r.onnx.wallMs);
  const rows = [
    ['path', 'whole 8K upscale', 'process CPU', 'model 4x alone'],
    ['ESRGAN, onnxruntime (pool threads)', `${fmt(onnxMs, 0)} ms`, `${fmt(median(r.onnx.cpuMs), 0)} ms`, `${fmt(r.onnx.superResolveMs, 0)} ms`],
  ];
  if (r.tfjs) rows.push(['ESRGAN, tfjs-wasm (before)', `${fmt(r.tfjs.wallMs, 0)} ms`, `${fmt(r.tfjs.cpuMs, 0)} ms`, `${fmt(r.tfjs.superResolveMs, 0)} ms`]);
  rows.push(['lanczos3 + unsharp mask', `${fmt(median(r.lanczos.wallMs), 0)} ms`, `${fmt(median(r.lanczos.cpuMs), 0)} ms`, '-']);
  const out = [`(g) local 8K upscale: ${r.input}`, table(rows)];
  if (r.tfjs) {
    const speedup = r.tfjs.wallMs / onnxMs;
    out.push(`  onnxruntime vs tfjs: ${fmt(speedup, 1)}x faster (target >= ${UPSCALE_TARGETS.onnxVsTfjs}x: ${mark(speedup >= UPSCALE_TARGETS.onnxVsTfjs)})`);
  } else {
    out.push('  (tfjs baseline not run: the @tensorflow packages left the project; the README keeps the last measured figures)');
  }
  if (r.difference) {
    const d = r.difference;
    const ok = d.maxAbsDiff <= UPSCALE_TARGETS.maxAbsDiff && d.changedFraction < UPSCALE_TARGETS.changedFraction && d.psnrDb >= UPSCALE_TARGETS.minPsnrDb;
    out.push(
      `  4x outputs, onnxruntime vs tfjs: max |diff| ${d.maxAbsDiff}, ${fmt(d.changedFraction * 100, 3)} % of values differ, PSNR ${fmt(d.psnrDb, 1)} dB (tolerance max 2, < 1 %, >= 50 dB: ${mark(ok)})`,
    );
  }
  out.push(`  vs lanczos: ${fmt(onnxMs / median(r.lanczos.wallMs), 1)}x its time`);
  if (r.imageBytes) out.push(`  docker image likeness:local: ${fmt(r.imageBytes / 1e6, 0)} MB`);
  console.log(out.join('\n'));
}
