/**
 * (g) The local 8K upscale of a 1024 x 1280 portrait (long edge 1280 -> 7680): ESRGAN on
 * onnxruntime in the model pool's threads (what Likeness runs) beside lanczos
 * (LOCAL_SUPER_RESOLUTION=lanczos), both in the same run. Each figure is the whole upscale (model
 * 4x, lanczos to 7680, JPEG) with the process CPU it cost (all threads).
 *
 * The tfjs-wasm path it replaced left the project with its packages. Until then this section ran
 * it in the same run and compared the two 4x outputs (commit "ESRGAN runs on onnxruntime in the
 * model pool's threads…", which has bench/esrgan-tfjs.ts); those figures are printed as recorded.
 * The outputs are held to each other by test/integration/super-resolution.test.ts.
 *
 * Also prints the size of the `likeness:local` Docker image when `docker` can see it.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { closeFaceModels, upscaleToLongEdge } from '../src/images/index.js';
import { superResolve } from '../src/images/super-resolution.js';
import { fmt, median, nowMs, table } from './stats.js';

export interface UpscaleBenchOptions {
  /** Timed runs of each path. */
  runs: number;
}

export const DEFAULT_UPSCALE_BENCH: UpscaleBenchOptions = { runs: 3 };
/**
 * The tfjs path, measured in the same run as onnxruntime before it was removed (2-core VM shared with
 * other work): whole upscale wall and CPU ms, the onnxruntime figures of that run, and the 4x outputs' difference.
 */
export const RECORDED_TFJS = {
  tfjs: { wallMs: 197_423, cpuMs: 63_398 },
  onnx: { wallMs: 25_521, cpuMs: 16_472 },
  difference: { maxAbsDiff: 1, changedFraction: 0.00003, psnrDb: 92.9 },
};
const LONG_EDGE = 7680;

interface Timing {
  wallMs: number;
  cpuMs: number;
}

export interface UpscaleBenchResult {
  input: string;
  onnx: { wallMs: number[]; cpuMs: number[]; superResolveMs: number };
  lanczos: { wallMs: number[]; cpuMs: number[] };
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

  await closeFaceModels();
  result.imageBytes = await dockerImageBytes();
  return result;
}

export function printUpscale(r: UpscaleBenchResult): void {
  const onnxMs = median(r.onnx.wallMs);
  const t = RECORDED_TFJS;
  const rows = [
    ['path', 'whole 8K upscale', 'process CPU', 'model 4x alone'],
    ['ESRGAN, onnxruntime (pool threads)', `${fmt(onnxMs, 0)} ms`, `${fmt(median(r.onnx.cpuMs), 0)} ms`, `${fmt(r.onnx.superResolveMs, 0)} ms`],
    ['lanczos3 + unsharp mask', `${fmt(median(r.lanczos.wallMs), 0)} ms`, `${fmt(median(r.lanczos.cpuMs), 0)} ms`, '-'],
  ];
  console.log(
    [
      `(g) local 8K upscale: ${r.input}`,
      table(rows),
      `  vs lanczos: ${fmt(onnxMs / median(r.lanczos.wallMs), 1)}x its time`,
      `  tfjs-wasm, as recorded in the same run as onnxruntime before tfjs left: ${fmt(t.tfjs.wallMs, 0)} ms wall, ${fmt(t.tfjs.cpuMs, 0)} ms CPU,` +
        ` against ${fmt(t.onnx.wallMs, 0)} ms and ${fmt(t.onnx.cpuMs, 0)} ms: ${fmt(t.tfjs.wallMs / t.onnx.wallMs, 1)}x wall, ${fmt(t.tfjs.cpuMs / t.onnx.cpuMs, 1)}x CPU`,
      `  4x outputs then: max |diff| ${t.difference.maxAbsDiff}, ${fmt(t.difference.changedFraction * 100, 3)} % of values, PSNR ${fmt(t.difference.psnrDb, 1)} dB (tolerance: max 2, < 1 %, >= 50 dB)`,
      ...(r.imageBytes ? [`  docker image likeness:local: ${fmt(r.imageBytes / 1e6, 0)} MB (target <= 450 MB)`] : []),
    ].join('\n'),
  );
}
