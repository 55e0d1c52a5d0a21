/**
 * Images benchmarks, each beside a bare-sharp baseline measured in the same run:
 *   1. normalizePhoto on a 12 MP phone JPEG vs a bare sharp resize to 2048 px (target: throughput >= 0.8x bare);
 *   2. the face check per photo vs a bare sharp decode of the same photo to the detector's size;
 *   3. an 8K encode-to-fit under 10 MiB vs one bare 8K encode at the quality it chose (target <= 1.5x),
 *      with peak RSS measured in a child process that does nothing else (target <= 600 MB). The bare
 *      encode is sharp's own decode-and-encode pipeline, which overlaps the two on separate threads;
 *      encodeToFit decodes once, samples, and encodes in parallel strips. Both use every core they
 *      can, so the process CPU time of each is printed beside the wall time.
 *
 * `benchImages()` returns the figures, `printImages()` prints them as tables. Run alone with
 * `npx tsx bench/images.ts [--quick]`.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { loadConfig } from '../src/config.js';
import { detectFaces, encodeToFit, labelOutput, normalizePhoto, PLATFORM_RULES, warmUpFaceModels } from '../src/images/index.js';
import { makeCameraJpeg } from './normalize.js';
import { fmt, median, nowMs, table } from './stats.js';

export interface ImagesBenchOptions {
  /** Interleaved runs per timing (medians are reported). */
  runs: number;
}

export const DEFAULT_IMAGES_BENCH: ImagesBenchOptions = { runs: 7 };

export const IMAGES_TARGETS = { normalizeVsBare: 0.8, encodeToFitVsBare: 1.5, encodeToFitPeakRssMb: 600 };

interface Span {
  median: number;
  min: number;
  max: number;
}

export interface ImagesBenchResult {
  normalize: { input: string; bareMs: Span; normalizeMs: Span; throughputVsBare: number };
  faces: {
    detectorLoadMs: number;
    photos: Array<{ name: string; width: number; height: number; faces: number; bareDecodeMs: number; faceCheckMs: number }>;
  };
  encodeToFit: {
    input: string;
    limitBytes: number;
    quality: number | 'original';
    outputBytes: number;
    fullEncodes: number;
    bareMs: Span;
    fitMs: Span;
    ratio: number;
    /** Median process CPU (user + system, all threads) per run. */
    cpuMs: { bare: number; fit: number };
    peakRssMb: { fit: number; bare: number; idle: number };
  };
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
const span = (values: number[]): Span => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });

/** CPU of this process (user + system, all threads) for each timed run, by task: read by the 8K section. */
const cpuSpent = new WeakMap<() => Promise<unknown>, number[]>();

async function timed(task: () => Promise<unknown>): Promise<number> {
  const cpu = process.cpuUsage();
  const started = nowMs();
  await task();
  const wall = nowMs() - started;
  const spent = process.cpuUsage(cpu);
  const list = cpuSpent.get(task) ?? [];
  list.push((spent.user + spent.system) / 1000);
  cpuSpent.set(task, list);
  return wall;
}

/** Runs `a` and `b` alternately (so drift hits both alike) and returns their times. */
async function interleaved(runs: number, a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number[], number[]]> {
  const ta: number[] = [];
  const tb: number[] = [];
  await a();
  await b();
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      ta.push(await timed(a));
      tb.push(await timed(b));
    } else {
      tb.push(await timed(b));
      ta.push(await timed(a));
    }
  }
  return [ta, tb];
}

/** A detailed 7680 x 6144 JPEG at q95 (~29 MB): a noisy group photo, tiled, labelled like an output. */
export async function makeEightK(): Promise<Buffer> {
  const group = readFileSync(new URL('../test/fixtures/faces-group.jpg', import.meta.url));
  const grain = await sharp({ create: { width: 960, height: 768, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 6 } } })
    .png()
    .toBuffer();
  const tile = await sharp(group)
    .resize(960, 768, { fit: 'cover' })
    .composite([{ input: grain, blend: 'soft-light' }])
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const image = await sharp({ create: { width: 7680, height: 6144, channels: 3, background: '#000' } })
    .composite([{ input: tile.data, raw: tile.info, tile: true }])
    .jpeg({ quality: 95 })
    .toBuffer();
  return labelOutput(image, { mark: false });
}

const bareEncode = (input: Buffer, quality: number) =>
  sharp(input).jpeg({ quality, mozjpeg: false, chromaSubsampling: '4:2:0', optimiseCoding: false }).toBuffer();

/** Peak RSS (MB) of a child process that loads this module and runs one task on `file`. */
async function childPeakRss(task: 'fit' | 'bare' | 'idle', file: string, quality: number): Promise<number> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', task, file, String(quality)], {
    cwd: ROOT,
    maxBuffer: 1 << 20,
  });
  return Number(stdout.trim());
}

export async function benchImages(options: ImagesBenchOptions = DEFAULT_IMAGES_BENCH): Promise<ImagesBenchResult> {
  // 1. Normalize a 12 MP phone JPEG.
  const limits = loadConfig({}).photos;
  const camera = await makeCameraJpeg();
  const [normalizeTimes, bareTimes] = await interleaved(
    options.runs,
    () => normalizePhoto(camera, limits),
    () => sharp(camera).resize(2048, 2048, { fit: 'inside' }).jpeg().toBuffer(),
  );

  // 2. Face check per photo.
  const loadStarted = nowMs();
  await warmUpFaceModels();
  const detectorLoadMs = nowMs() - loadStarted;
  const fixture = (name: string) => readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url));
  const photos: Array<[string, Buffer]> = [
    ['astronaut 512x512 (1 face)', readFileSync(new URL('../samples/astronaut.jpg', import.meta.url))],
    ['face-single 400x500', fixture('face-single.jpg')],
    ['faces-group 960x640', fixture('faces-group.jpg')],
    ['normalized 12 MP phone photo 2048x1536', (await normalizePhoto(camera, limits)).bytes],
  ];
  const faceRows: ImagesBenchResult['faces']['photos'] = [];
  for (const [name, bytes] of photos) {
    const meta = await sharp(bytes).metadata();
    const faces = (await detectFaces(bytes)).length;
    // A copy per call: a face search is remembered per buffer (face-detector.ts), and a repeat would time nothing.
    const [check, bare] = await interleaved(
      options.runs,
      () => detectFaces(Buffer.from(bytes)),
      () => sharp(bytes).resize(320, 320, { fit: 'inside', withoutEnlargement: true }).raw().toBuffer(),
    );
    faceRows.push({ name, width: meta.width, height: meta.height, faces, bareDecodeMs: median(bare), faceCheckMs: median(check) });
  }

  // 3. 8K encode-to-fit under Discord's 10 MiB.
  const eightK = await makeEightK();
  const rule = PLATFORM_RULES.discordAttachment;
  const first = await encodeToFit(eightK, rule);
  if (first.tooLarge) throw new Error('the 8K bench image does not fit 10 MiB at any quality');
  const quality = first.quality === 'original' ? 90 : first.quality;
  const fitTask = () => encodeToFit(eightK, rule);
  const bareTask = () => bareEncode(eightK, quality);
  const [fitTimes, bareEncodeTimes] = await interleaved(Math.max(3, Math.ceil(options.runs / 2)), fitTask, bareTask);
  const dir = await mkdtemp(join(tmpdir(), 'likeness-bench-'));
  let peak: ImagesBenchResult['encodeToFit']['peakRssMb'];
  try {
    const file = join(dir, 'eight-k.jpg');
    await writeFile(file, eightK);
    peak = {
      fit: await childPeakRss('fit', file, quality),
      bare: await childPeakRss('bare', file, quality),
      idle: await childPeakRss('idle', file, quality),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  return {
    normalize: {
      input: '4000x3000 JPEG q92, EXIF orientation 6',
      bareMs: span(bareTimes),
      normalizeMs: span(normalizeTimes),
      throughputVsBare: median(bareTimes) / median(normalizeTimes),
    },
    faces: { detectorLoadMs, photos: faceRows },
    encodeToFit: {
      input: `7680x6144 JPEG q95, ${fmt(eightK.length / 1024 / 1024, 1)} MB`,
      limitBytes: rule.maxBytes,
      quality: first.quality,
      outputBytes: first.bytes.length,
      fullEncodes: first.encodes,
      bareMs: span(bareEncodeTimes),
      fitMs: span(fitTimes),
      ratio: median(fitTimes) / median(bareEncodeTimes),
      cpuMs: { bare: median(cpuSpent.get(bareTask) ?? []), fit: median(cpuSpent.get(fitTask) ?? []) },
      peakRssMb: peak,
    },
  };
}

const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');

export function printImages(r: ImagesBenchResult): void {
  const out: string[] = [];
  const n = r.normalize;
  out.push(`(c) Images: normalize, face check, 8K encode-to-fit (each beside bare sharp, same run)`);
  out.push('');
  out.push(`  Normalize a 12 MP phone JPEG (${n.input})`);
  out.push(
    table([
      ['', 'median ms', 'min ms', 'max ms', 'throughput vs bare', 'target', ''],
      ['bare sharp resize(2048, inside).jpeg()', fmt(n.bareMs.median, 1), fmt(n.bareMs.min, 1), fmt(n.bareMs.max, 1), '1.00x', '', ''],
      ['normalizePhoto', fmt(n.normalizeMs.median, 1), fmt(n.normalizeMs.min, 1), fmt(n.normalizeMs.max, 1), `${fmt(n.throughputVsBare, 2)}x`, `>= ${IMAGES_TARGETS.normalizeVsBare}x`, mark(n.throughputVsBare >= IMAGES_TARGETS.normalizeVsBare)],
    ]),
  );
  out.push('');
  out.push(`  Face check per photo (BlazeFace, @vladmandic/human's weights on onnxruntime in a face-model thread; a 320 px copy, and a 640 px one when faces are small or none are found; threads started and models loaded in ${fmt(r.faces.detectorLoadMs, 0)} ms once per process)`);
  out.push(
    table([
      ['photo', 'faces', 'bare sharp decode to 320 px (ms)', 'face check (ms)', 'model share (ms)'],
      ...r.faces.photos.map((p) => [p.name, String(p.faces), fmt(p.bareDecodeMs, 1), fmt(p.faceCheckMs, 1), fmt(p.faceCheckMs - p.bareDecodeMs, 1)]),
    ]),
  );
  out.push('');
  const e = r.encodeToFit;
  out.push(
    `  8K encode-to-fit under ${fmt(e.limitBytes / 1024 / 1024, 0)} MiB (${e.input}): quality ${e.quality}, ${fmt(e.outputBytes / 1024 / 1024, 2)} MB, ${e.fullEncodes} full encode(s)`,
  );
  out.push(
    table([
      ['', 'median ms', 'min ms', 'max ms', 'ratio', 'CPU ms', 'peak RSS MB', 'target', ''],
      [`bare sharp 8K decode + encode at q${e.quality}`, fmt(e.bareMs.median, 0), fmt(e.bareMs.min, 0), fmt(e.bareMs.max, 0), '1.00x', fmt(e.cpuMs.bare, 0), fmt(e.peakRssMb.bare, 0), '', ''],
      ['encodeToFit', fmt(e.fitMs.median, 0), fmt(e.fitMs.min, 0), fmt(e.fitMs.max, 0), `${fmt(e.ratio, 2)}x`, fmt(e.cpuMs.fit, 0), fmt(e.peakRssMb.fit, 0), `<= ${IMAGES_TARGETS.encodeToFitVsBare}x, <= ${IMAGES_TARGETS.encodeToFitPeakRssMb} MB`, `${mark(e.ratio <= IMAGES_TARGETS.encodeToFitVsBare)} / ${mark(e.peakRssMb.fit <= IMAGES_TARGETS.encodeToFitPeakRssMb)}`],
    ]),
  );
  out.push(`    peak RSS of a child that only loads the modules and reads the file: ${fmt(e.peakRssMb.idle, 0)} MB`);
  console.log(out.join('\n'));
}

/**
 * This process's peak RSS in MB: VmHWM, which starts afresh at exec (getrusage's maxrss does not:
 * on Linux a child inherits its parent's high-water mark at fork).
 */
function peakRssMb(): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return Number(kb) / 1024;
  } catch {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** Child mode: one task, then print this process's peak RSS in MB. */
async function child(task: string, file: string, quality: number): Promise<void> {
  const input = readFileSync(file);
  if (task === 'fit') await encodeToFit(input, PLATFORM_RULES.discordAttachment);
  if (task === 'bare') await bareEncode(input, quality);
  process.stdout.write(`${peakRssMb()}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [flag, task, file, quality] = process.argv.slice(2);
  const main = flag === '--child'
    ? child(task!, file!, Number(quality))
    : benchImages(process.argv.includes('--quick') ? { runs: 3 } : DEFAULT_IMAGES_BENCH).then(printImages);
  main.then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
