/**
 * Section (b): normalizing a 12 MP camera-like JPEG with `normalizePhoto`, beside a bare sharp
 * resize of the same bytes to fit 2048 px. Runs are interleaved so drift hits both alike.
 */
import sharp from 'sharp';
import { loadConfig } from '../src/config.js';
import { normalizePhoto } from '../src/images/index.js';
import { readPhotoHeader } from '../src/images/inspect-photo.js';
import { median, nowMs } from './stats.js';

export interface NormalizeOptions {
  runs: number;
  /** Runs of each diagnostic variant (0 to skip them). */
  diagnosticRuns: number;
}

export const DEFAULT_NORMALIZE: NormalizeOptions = { runs: 9, diagnosticRuns: 3 };

export interface NormalizeResult {
  input: { width: number; height: number; bytes: number; orientation: number | undefined };
  output: { width: number; height: number; bytes: number };
  runs: number;
  normalizeMs: { median: number; min: number; max: number };
  bareMs: { median: number; min: number; max: number };
  ratio: number;
  /** Median ms of single ingredients of normalizePhoto, to see where its extra time goes. */
  diagnostics: Array<{ name: string; medianMs: number }>;
}

/** A 4000x3000 JPEG with smooth gradients, texture and sensor-like noise, EXIF orientation 6 (shot rotated). */
export async function makeCameraJpeg(): Promise<Buffer> {
  const width = 4000;
  const height = 3000;
  const raw = Buffer.alloc(width * height * 3);
  let seed = 0x9e3779b9;
  const noise = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return ((seed >>> 0) & 255) / 255 - 0.5;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const gx = x / width;
      const gy = y / height;
      const texture = 18 * Math.sin(x / 23 + Math.sin(y / 41) * 3) * Math.cos(y / 17);
      const n = noise() * 22;
      raw[i] = clamp(60 + 150 * gx + texture + n);
      raw[i + 1] = clamp(40 + 120 * gy + texture * 0.7 + n);
      raw[i + 2] = clamp(90 + 100 * (1 - gx) * gy - texture * 0.5 + n);
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 92, chromaSubsampling: '4:2:0' })
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

const bareResize = (bytes: Buffer) => sharp(bytes).resize(2048, 2048, { fit: 'inside' }).jpeg().toBuffer();

async function timed(task: () => Promise<unknown>): Promise<number> {
  const t0 = nowMs();
  await task();
  return nowMs() - t0;
}

export async function benchNormalize(options: NormalizeOptions = DEFAULT_NORMALIZE): Promise<NormalizeResult> {
  const limits = loadConfig({}).photos;
  const input = await makeCameraJpeg();
  const meta = await sharp(input).metadata();
  const first = await normalizePhoto(input, limits);
  await bareResize(input);

  const normalizeTimes: number[] = [];
  const bareTimes: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    // Alternate which goes first, so neither always runs on a warmer (or busier) machine.
    if (i % 2 === 0) {
      normalizeTimes.push(await timed(() => normalizePhoto(input, limits)));
      bareTimes.push(await timed(() => bareResize(input)));
    } else {
      bareTimes.push(await timed(() => bareResize(input)));
      normalizeTimes.push(await timed(() => normalizePhoto(input, limits)));
    }
  }

  const diagnostics: NormalizeResult['diagnostics'] = [];
  if (options.diagnosticRuns > 0) {
    const variants: Array<[string, () => Promise<unknown>]> = [
      ['header read (readPhotoHeader)', () => readPhotoHeader(input, limits)],
      ['bare + autoOrient (rotate 90)', () => sharp(input, { autoOrient: true }).resize(2048, 2048, { fit: 'inside' }).jpeg().toBuffer()],
      ['bare + jpeg q90 optimiseCoding', () => sharp(input).resize(2048, 2048, { fit: 'inside' }).jpeg({ quality: 90, optimiseCoding: true }).toBuffer()],
      ['bare + flatten + toColourspace(srgb)', () => sharp(input).resize(2048, 2048, { fit: 'inside' }).flatten({ background: '#ffffff' }).toColourspace('srgb').jpeg().toBuffer()],
      ['bare + failOn error + limitInputPixels', () => sharp(input, { failOn: 'error', limitInputPixels: limits.maxPixels }).resize(2048, 2048, { fit: 'inside' }).jpeg().toBuffer()],
    ];
    for (const [name, task] of variants) {
      const times: number[] = [];
      await task();
      for (let i = 0; i < options.diagnosticRuns; i++) times.push(await timed(task));
      diagnostics.push({ name, medianMs: median(times) });
    }
  }

  const span = (values: number[]) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });
  return {
    input: { width: meta.width, height: meta.height, bytes: input.byteLength, orientation: meta.orientation },
    output: { width: first.width, height: first.height, bytes: first.bytes.byteLength },
    runs: options.runs,
    normalizeMs: span(normalizeTimes),
    bareMs: span(bareTimes),
    ratio: median(normalizeTimes) / median(bareTimes),
    diagnostics,
  };
}
