/**
 * Hostile decodes (issue 21): what issue 21's two bombs cost the bots process, one photo and an
 * album of four, decoded the old way (libheif's wasm on the main thread; sharp with no depth cap)
 * beside normalizePhoto as it is now (HEIC in child processes; 16-bit over 16 MP refused from the
 * header). Each figure comes from a fresh process, so peak RSS is that scenario's own; the HEIC
 * decoders' peak is sampled from /proc and reported beside it.
 *
 *   import { benchHostileDecode, printHostileDecode } from './hostile-decode.js';
 *   printHostileDecode(await benchHostileDecode());
 *
 * Run alone with `npx tsx bench/hostile-decode.ts`.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { decodeOptions, sharp } from '../src/images/sharp.js';
import { heicProcessStats } from '../src/images/heic-process.js';
import { normalizePhoto } from '../src/images/normalize-photo.js';
import { heicGridBomb, png16BitRotated } from '../test/support/hostile-images.js';
import { fmt, table } from './stats.js';
import { startStallProbe } from '../test/support/stall-probe.js';

const FILES = ['heic-bomb', 'png16'] as const;
const PATHS = ['old', 'now'] as const;
type File = (typeof FILES)[number];
type Path = (typeof PATHS)[number];

/** One scenario's figures. */
export interface HostileDecodeRow {
  file: File;
  path: Path;
  photos: number;
  wallMs: number;
  /** Longest gap between 10 ms timer ticks, beyond the 10 ms. */
  maxStallMs: number;
  /** The bots process's peak resident memory. */
  peakRssMb: number;
  /** The most one HEIC decoding process was seen using (0 where none ran). */
  decoderPeakRssMb: number;
  outcome: string;
}

export interface HostileDecodeResult {
  rows: HostileDecodeRow[];
}

const LIMITS = { maxBytes: 20 * 1024 * 1024, maxPixels: 50_000_000 };

async function hostileFile(file: File): Promise<Buffer> {
  if (file === 'png16') return png16BitRotated(7071);
  return heicGridBomb(readFileSync(new URL('../test/fixtures/astronaut.heic', import.meta.url)), 15, 15);
}

/** The old path: HEIC decoded by libheif's wasm on this thread, then the same sharp pipeline; no depth cap. */
async function normalizeTheOldWay(bytes: Buffer, file: File): Promise<void> {
  let pipeline;
  if (file === 'heic-bomb') {
    const decode = createRequire(import.meta.url)('heic-decode') as (input: { buffer: Uint8Array }) => Promise<{ width: number; height: number; data: Uint8ClampedArray }>;
    const image = await decode({ buffer: bytes });
    pipeline = sharp(Buffer.from(image.data.buffer), { raw: { width: image.width, height: image.height, channels: 4 } });
  } else {
    pipeline = sharp(bytes, decodeOptions(LIMITS.maxPixels));
  }
  await pipeline.resize(2048, 2048, { fit: 'inside', withoutEnlargement: true }).flatten({ background: '#ffffff' }).toColourspace('srgb').jpeg({ quality: 90 }).toBuffer();
}

/** Runs one scenario in this process (it must be fresh): warm-up on a small photo, then the album under a timer probe. */
async function runScenario(file: File, path: Path, photos: number): Promise<HostileDecodeRow> {
  const bytes = await hostileFile(file);
  const warm = file === 'heic-bomb' ? readFileSync(new URL('../test/fixtures/astronaut.heic', import.meta.url)) : readFileSync(new URL('../samples/astronaut.jpg', import.meta.url));
  await (path === 'old' ? normalizeTheOldWay(warm, file) : normalizePhoto(warm, LIMITS));
  const stall = startStallProbe();
  const started = performance.now();
  const outcomes = await Promise.allSettled(Array.from({ length: photos }, () => (path === 'old' ? normalizeTheOldWay(bytes, file) : normalizePhoto(bytes, LIMITS))));
  const wallMs = performance.now() - started;
  const maxStallMs = stall.stop();
  const refused = outcomes.map((o) => (o.status === 'rejected' ? String((o.reason as { code?: string }).code ?? o.reason) : 'ok'));
  return {
    file,
    path,
    photos,
    wallMs,
    maxStallMs,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    decoderPeakRssMb: heicProcessStats.peakRssBytes / 2 ** 20,
    outcome: [...new Set(refused)].join(', '),
  };
}

/** Runs every scenario, each in a fresh process. */
export async function benchHostileDecode(): Promise<HostileDecodeResult> {
  const rows: HostileDecodeRow[] = [];
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  for (const file of FILES) {
    for (const photos of [1, 4]) {
      for (const path of PATHS) {
        const { stdout } = await promisify(execFile)(process.execPath, ['--import', tsx, fileURLToPath(import.meta.url), '--scenario', file, path, String(photos)], {
          maxBuffer: 1024 * 1024,
        });
        rows.push(JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as HostileDecodeRow);
      }
    }
  }
  return { rows };
}

export function printHostileDecode(r: HostileDecodeResult): void {
  console.log('(h) Hostile decodes (issue 21): one bomb and an album of four, the old path beside normalizePhoto now');
  const old = (row: HostileDecodeRow) => r.rows.find((o) => o.file === row.file && o.photos === row.photos && o.path === 'old');
  console.log(
    table([
      ['file', 'photos', 'path', 'wall ms', 'max stall ms', 'stall vs old', 'peak RSS MB', 'decoder peak MB', 'outcome'],
      ...r.rows.map((row) => [
        row.file,
        String(row.photos),
        row.path,
        fmt(row.wallMs, 0),
        fmt(row.maxStallMs, 0),
        row.path === 'now' ? `${fmt(row.maxStallMs / (old(row)?.maxStallMs ?? Number.NaN), 3)}x` : '',
        fmt(row.peakRssMb, 0),
        fmt(row.decoderPeakRssMb, 0),
        row.outcome,
      ]),
    ]),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--scenario');
  if (at >= 0) {
    const [file, path, photos] = process.argv.slice(at + 1) as [File, Path, string];
    console.log(JSON.stringify(await runScenario(file, path, Number(photos))));
    process.exit(0);
  }
  printHostileDecode(await benchHostileDecode());
}
