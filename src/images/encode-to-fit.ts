import type { Sharp } from 'sharp';
import { toDecodeError } from './decode-error.js';
import { isJpeg, readJpegXmp, withJpegXmp, xmpSegmentBytes } from './jpeg-segments.js';
import { decodeOptions, sharp } from './sharp.js';

/** A platform's rule for one file: its byte limit and, for some, a limit on width + height. */
export interface FitRule {
  maxBytes: number;
  /** Telegram photos: width + height may not exceed this. */
  maxWidthPlusHeight?: number;
}

/**
 * What the chat platforms accept, as of 2025. Discord: each interaction says its
 * `attachment_size_limit`; 10 MiB is what a server without boosts gets, so use that value when the
 * interaction carries one. Telegram Bot API: `sendPhoto` takes at most 10 MB with width + height at
 * most 10000 (an 8K portrait is 6144 + 7680, so it goes as a document), `sendDocument` at most 50 MB
 * (a local Bot API server raises that; pass its limit instead).
 */
export const PLATFORM_RULES = {
  discordAttachment: { maxBytes: 10 * 1024 * 1024 },
  telegramPhoto: { maxBytes: 10_000_000, maxWidthPlusHeight: 10_000 },
  telegramDocument: { maxBytes: 50_000_000 },
} as const satisfies Record<string, FitRule>;

/** Options for {@link encodeToFit}. */
export interface EncodeToFitOptions extends FitRule {
  /** Never go below this JPEG quality; below it the answer is "too large" (default 40). */
  minQuality?: number;
  /** Never go above this quality (default 95). */
  maxQuality?: number;
}

/** An encoding that fits. `quality` is 'original' when the input already fitted and is returned untouched. */
export interface FittedImage {
  tooLarge: false;
  bytes: Buffer;
  quality: number | 'original';
  width: number;
  height: number;
  /** Full-size encodes it took (0 when the original fitted). */
  encodes: number;
}

/** Nothing fits: send a link (the HTTP server's signed download) instead of a file. */
export interface TooLarge {
  tooLarge: true;
  /** The smallest encoding tried, for the log. */
  smallestBytes: number;
  advice: 'send-link';
}

const DEFAULT_MIN_QUALITY = 40;
const DEFAULT_MAX_QUALITY = 95;
/** Aim this far under the limit, so the first full encode usually fits despite prediction error. */
const TARGET_SHARE = 0.93;
/** Edge of a sample tile; a multiple of 16 keeps JPEG blocks aligned as in the full image. */
const TILE = 256;
/** Sample tiles per side of the grid (25 tiles, a 1280 px square mosaic: ~1/29 of an 8K image per trial encode). */
const GRID = 5;
/** Below this many pixels, sampling costs more than it saves: bisect on full encodes. */
const SAMPLE_FROM_PIXELS = 4_000_000;
/** Decoded pixels are kept in memory up to this size (an 8K square is 177 MB); bigger images are re-decoded per encode. */
const MAX_RAW_BYTES = 256 * 1024 * 1024;
/** Full encodes at most, before giving up on finding the best quality and settling for one that fits. */
const MAX_FULL_ENCODES = 4;

interface RawPixels {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

/**
 * The best JPEG quality under a platform's byte limit, in a few encodes: a sample of full-resolution
 * tiles (a 1.6 MP mosaic) predicts the size at each quality, a bisection on the sample picks the
 * quality, one full encode usually confirms it, and a miss recalibrates the prediction. The image
 * is decoded once; its pixels are held for the re-encodes (bounded: past 256 MB they are decoded
 * again instead). With `maxWidthPlusHeight` the image is first scaled down (lanczos3) to fit it.
 * An XMP packet in the input (the provenance label) is carried over byte for byte. A JPEG that
 * already fits and needs no scaling is returned untouched. Works for any size up to 8K and beyond.
 * Throws AppError for bytes that are not a readable image.
 */
export async function encodeToFit(image: Buffer, opts: EncodeToFitOptions): Promise<FittedImage | TooLarge> {
  const minQuality = opts.minQuality ?? DEFAULT_MIN_QUALITY;
  const maxQuality = opts.maxQuality ?? DEFAULT_MAX_QUALITY;
  const meta = await sharp(image, decodeOptions())
    .metadata()
    .catch((error: unknown) => {
      throw toDecodeError(error);
    });
  const size = fitWidthPlusHeight(meta.autoOrient.width, meta.autoOrient.height, opts.maxWidthPlusHeight);
  const resized = size.width !== meta.autoOrient.width || size.height !== meta.autoOrient.height;
  if (!resized && meta.format === 'jpeg' && image.length <= opts.maxBytes) {
    return { tooLarge: false, bytes: image, quality: 'original', width: size.width, height: size.height, encodes: 0 };
  }

  const xmp = isJpeg(image) ? readJpegXmp(image) : (meta.xmpAsString ?? meta.xmp?.toString('utf8'));
  const overhead = xmp ? xmpSegmentBytes(xmp) : 0;
  const budget = opts.maxBytes - overhead;

  const source = (): Sharp => {
    let pipeline = sharp(image, decodeOptions());
    if (resized) pipeline = pipeline.resize(size.width, size.height, { fit: 'fill', kernel: 'lanczos3' });
    return pipeline.flatten({ background: '#ffffff' }).toColourspace('srgb');
  };
  const pixels = size.width * size.height;
  const raw = pixels * 3 <= MAX_RAW_BYTES ? await decodeRaw(source()) : undefined;
  const full = (quality: number): Promise<Buffer> => encodeJpeg(raw ? fromRaw(raw) : source(), quality);

  let encodes = 0;
  let best: { bytes: Buffer; quality: number } | undefined;
  let smallest = Number.POSITIVE_INFINITY;
  /** Encodes the whole image at `quality`, remembers the best that fits, and returns its size. */
  const tryFull = async (quality: number): Promise<number> => {
    const bytes = await full(quality);
    encodes += 1;
    smallest = Math.min(smallest, bytes.length);
    if (bytes.length <= budget && (!best || quality > best.quality)) best = { bytes, quality };
    return bytes.length;
  };

  // Qualities in (low, high] are untested; `low` is the best known to fit (minQuality - 1: none yet).
  let low = minQuality - 1;
  let high = maxQuality;
  let settled = false;
  const sample = raw && pixels >= SAMPLE_FROM_PIXELS ? sampleMosaic(raw) : undefined;
  if (sample) {
    const scale = pixels / (sample.width * sample.height);
    const sampled = new Map<number, number>();
    const predicted = async (quality: number): Promise<number> => {
      let bytes = sampled.get(quality);
      if (bytes === undefined) {
        bytes = (await encodeJpeg(fromRaw(sample), quality)).length * scale;
        sampled.set(quality, bytes);
      }
      return bytes;
    };
    // Full size / predicted size, learnt from each full encode.
    let calibration = 1;
    while (!settled && encodes < MAX_FULL_ENCODES && low < high) {
      const guess = await highestPassing(low + 1, high, async (q) => (await predicted(q)) * calibration <= budget * TARGET_SHARE);
      const quality = guess ?? low + 1;
      const actual = await tryFull(quality);
      if (actual <= budget) {
        low = quality;
        // Near the limit, one quality step more would not fit (or would gain little): done.
        settled = quality >= high || actual > budget * 0.85;
      } else {
        high = quality - 1;
      }
      calibration = actual / (await predicted(quality));
    }
  } else if ((await tryFull(high)) <= budget) {
    // Small images usually fit at the top quality straight away.
    low = high;
  } else {
    high -= 1;
  }
  // Bisection on full encodes: for small images, or when the sample's guesses ran out.
  while (!settled && low < high && (!sample || encodes < MAX_FULL_ENCODES)) {
    const quality = Math.ceil((low + high + 1) / 2);
    if ((await tryFull(quality)) <= budget) low = quality;
    else high = quality - 1;
  }
  if (!best && high >= minQuality && encodes >= MAX_FULL_ENCODES) await tryFull(minQuality);

  const found = best as { bytes: Buffer; quality: number } | undefined;
  if (!found) return { tooLarge: true, smallestBytes: smallest + overhead, advice: 'send-link' };
  return { tooLarge: false, bytes: xmp ? withJpegXmp(found.bytes, xmp) : found.bytes, quality: found.quality, width: size.width, height: size.height, encodes };
}

/** The size an image must be scaled to so that width + height <= max (unchanged when it already is). */
export function fitWidthPlusHeight(width: number, height: number, max: number | undefined): { width: number; height: number } {
  if (max === undefined || width + height <= max) return { width, height };
  const factor = max / (width + height);
  const w = Math.max(1, Math.floor(width * factor));
  const h = Math.max(1, Math.min(max - w, Math.floor(height * factor)));
  return { width: w, height: h };
}

/** The highest quality in [from, to] that `fits`, by bisection on the sample; undefined when none does. */
async function highestPassing(from: number, to: number, fits: (quality: number) => Promise<boolean>): Promise<number | undefined> {
  let low = from - 1;
  let high = to;
  while (low < high) {
    const mid = Math.ceil((low + high + 1) / 2);
    if (await fits(mid)) low = mid;
    else high = mid - 1;
  }
  return low >= from ? low : undefined;
}

async function decodeRaw(pipeline: Sharp): Promise<RawPixels> {
  const { data, info } = await pipeline
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch((error: unknown) => {
      throw toDecodeError(error);
    });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

function fromRaw(raw: RawPixels): Sharp {
  return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels as 3 } });
}

/**
 * The JPEG settings every encode here uses: plain libjpeg, 4:2:0, no Huffman optimisation (which
 * would hold every coefficient of an 8K image in memory), no metadata.
 */
function encodeJpeg(pipeline: Sharp, quality: number): Promise<Buffer> {
  return pipeline.jpeg({ quality, mozjpeg: false, chromaSubsampling: '4:2:0', optimiseCoding: false }).toBuffer();
}

/**
 * Full-resolution tiles spread evenly over the image (a GRID x GRID lattice, each tile from the
 * centre of its cell), packed into one mosaic: its JPEG size per pixel predicts the full image's.
 */
function sampleMosaic(raw: RawPixels): RawPixels {
  const tile = Math.min(TILE, alignDown(Math.floor(raw.width / GRID)), alignDown(Math.floor(raw.height / GRID)));
  const side = tile * GRID;
  const data = Buffer.alloc(side * side * raw.channels);
  const rowBytes = tile * raw.channels;
  for (let gy = 0; gy < GRID; gy++) {
    const top = Math.floor(((gy + 0.5) * raw.height) / GRID - tile / 2);
    for (let gx = 0; gx < GRID; gx++) {
      const left = Math.floor(((gx + 0.5) * raw.width) / GRID - tile / 2);
      for (let y = 0; y < tile; y++) {
        const from = ((top + y) * raw.width + left) * raw.channels;
        const to = ((gy * tile + y) * side + gx * tile) * raw.channels;
        raw.data.copy(data, to, from, from + rowBytes);
      }
    }
  }
  return { data, width: side, height: side, channels: raw.channels };
}

const alignDown = (n: number): number => Math.max(16, n - (n % 16));
