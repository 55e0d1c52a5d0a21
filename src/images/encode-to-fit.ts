import { availableParallelism } from 'node:os';
import type { Sharp } from 'sharp';
import { toDecodeError } from './decode-error.js';
import { isJpeg, readJpegXmp, withJpegXmp, xmpSegmentBytes } from './jpeg-segments.js';
import { joinJpegStrips, stripLayout } from './jpeg-strips.js';
import { decodeOptions, sharp } from './sharp.js';
import { sizeSample, type RawPixels } from './size-sample.js';

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
/** Below this many pixels, sampling costs more than it saves: bisect on full encodes. */
const SAMPLE_FROM_PIXELS = 4_000_000;
/** Decoded pixels are kept in memory up to this size (an 8K square is 177 MB); bigger images are re-decoded per encode. */
const MAX_RAW_BYTES = 256 * 1024 * 1024;
/** Full encodes at most, before giving up on finding the best quality and settling for one that fits. */
const MAX_FULL_ENCODES = 4;
/** Large encodes are cut into at least this many strips, encoded at once (libuv runs four at a time). */
const STRIPS = Math.min(4, Math.max(2, availableParallelism()));

/**
 * The best JPEG quality under a platform's byte limit, in a few encodes. For large images the
 * image is decoded once and its pixels held (bounded: past 256 MB they are decoded again per
 * encode instead); a sample of short block-aligned runs from all over the image (./size-sample.ts,
 * 1/29 of an 8K image) predicts the size at each quality, the highest quality predicted to fit is
 * encoded in full, and that usually settles it: once the calibrated sample says two steps up would
 * not fit, the quality is within one step of the best. Otherwise the prediction, recalibrated by
 * each full encode, picks the next (at most four full encodes). Full encodes of large images run
 * as parallel strips joined with restart markers (./jpeg-strips.ts). Small images are bisected on
 * full encodes. The result always fits: only measured sizes decide. With `maxWidthPlusHeight` the
 * image is first scaled down (lanczos3) to fit it. An XMP packet in the input (the provenance
 * label) is carried over byte for byte. A JPEG that already fits and needs no scaling is returned
 * untouched. Throws AppError for bytes that are not a readable image.
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
  const sampled = raw && pixels >= SAMPLE_FROM_PIXELS ? sizeSample(raw) : undefined;
  const full = (quality: number): Promise<Buffer> => (!raw ? encodeJpeg(source(), quality) : sampled ? encodeInStrips(raw, quality) : encodeJpeg(fromRaw(raw), quality));

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

  const searched = sampled
    ? await searchWithSample(minQuality, maxQuality, budget, tryFull, sampleSizes(sampled.sample, sampled.scale))
    : await searchByBisection(minQuality, maxQuality, budget, tryFull);
  if (!best && searched.high >= minQuality && encodes >= MAX_FULL_ENCODES) await tryFull(minQuality);

  const found = best as { bytes: Buffer; quality: number } | undefined;
  if (!found) return { tooLarge: true, smallestBytes: smallest + overhead, advice: 'send-link' };
  return { tooLarge: false, bytes: xmp ? withJpegXmp(found.bytes, xmp) : found.bytes, quality: found.quality, width: size.width, height: size.height, encodes };
}

/** Where a search left off: qualities in (low, high] were not ruled out; `low` is the best known to fit (min - 1: none). */
interface Searched {
  low: number;
  high: number;
}

/**
 * The full-size search led by the sample: encode the highest quality the (calibrated) sample
 * predicts to fit; stop when it fits and two steps up would not (or nothing above is left).
 */
async function searchWithSample(minQuality: number, maxQuality: number, budget: number, tryFull: (quality: number) => Promise<number>, predicted: SampleSizes): Promise<Searched> {
  let low = minQuality - 1;
  let high = maxQuality;
  // Full size / predicted size, learnt from each full encode.
  let calibration = 1;
  let encodes = 0;
  while (low < high && encodes < MAX_FULL_ENCODES) {
    const limit = budget / calibration;
    const guess = await predicted.highestWithin(low + 1, high, limit);
    const quality = guess ?? low + 1;
    // The size two steps up, for the stop rule, is encoded on the sample beside the full encode.
    const [actual] = await Promise.all([tryFull(quality), predicted.at([quality, quality + 2].filter((q) => q <= high))]);
    encodes += 1;
    calibration = actual / (await predicted.size(quality));
    if (actual <= budget) {
      low = quality;
      if (quality + 2 > high || (await predicted.size(quality + 2)) * calibration > budget) break;
    } else {
      high = quality - 1;
    }
  }
  return { low, high };
}

/** Bisection on full encodes, to the best quality (small images, which usually fit at the top quality straight away). */
async function searchByBisection(minQuality: number, maxQuality: number, budget: number, tryFull: (quality: number) => Promise<number>): Promise<Searched> {
  let low = minQuality - 1;
  let high = maxQuality;
  if ((await tryFull(high)) <= budget) return { low: high, high };
  high -= 1;
  while (low < high) {
    const quality = Math.ceil((low + high + 1) / 2);
    if ((await tryFull(quality)) <= budget) low = quality;
    else high = quality - 1;
  }
  return { low, high };
}

/** Predicted full-size bytes per quality, from encodes of the sample (memoized; several at once). */
interface SampleSizes {
  /** Encodes the sample at these qualities (those not yet known), in parallel. */
  at(qualities: number[]): Promise<void>;
  size(quality: number): Promise<number>;
  /** The highest quality in [from, to] predicted at most `limit` bytes; undefined when none is. */
  highestWithin(from: number, to: number, limit: number): Promise<number | undefined>;
}

function sampleSizes(sample: RawPixels, scale: number): SampleSizes {
  const known = new Map<number, Promise<number>>();
  const size = (quality: number): Promise<number> => {
    let bytes = known.get(quality);
    if (!bytes) {
      bytes = encodeJpeg(fromRaw(sample), quality).then((jpeg) => jpeg.length * scale);
      known.set(quality, bytes);
    }
    return bytes;
  };
  const at = async (qualities: number[]) => void (await Promise.all(qualities.map(size)));
  return {
    at,
    size,
    /**
     * Sizes rise with quality; log size is close to linear in it over a few steps. Two probes at
     * a time (the libuv pool runs them side by side), placed by interpolating log size between
     * the nearest qualities known to pass and to fail: two or three rounds instead of six
     * bisection steps.
     */
    async highestWithin(from, to, limit) {
      let pass = from - 1; // highest known to be within the limit
      let fail = to + 1; // lowest known to be over it
      // What earlier rounds measured narrows this one (after a full encode recalibrated the limit).
      for (const [q, bytes] of known) {
        if (q < from || q > to) continue;
        if ((await bytes) <= limit) pass = Math.max(pass, q);
        else fail = Math.min(fail, q);
      }
      const first = known.size ? await interpolate(pass >= from ? pass : undefined, fail <= to ? fail : undefined, limit, size) : undefined;
      let probes = first === undefined ? [from + Math.round((to - from) / 3), from + Math.round((2 * (to - from)) / 3)] : [Math.floor(first), Math.floor(first) + 1];
      while (fail - pass > 1) {
        probes = [...new Set(probes.map((q) => Math.min(fail - 1, Math.max(pass + 1, q))))];
        await at(probes);
        for (const q of probes) {
          if ((await size(q)) <= limit) pass = Math.max(pass, q);
          else fail = Math.min(fail, q);
        }
        if (fail - pass <= 1) break;
        const estimate = await interpolate(pass >= from ? pass : undefined, fail <= to ? fail : undefined, limit, size);
        probes = estimate === undefined ? [Math.ceil((pass + fail) / 2)] : [Math.floor(estimate), Math.floor(estimate) + 1];
      }
      return pass >= from ? pass : undefined;
    },
  };
}

/** The quality where log size reaches `limit`, between (or beyond) the nearest known pass and fail. */
async function interpolate(pass: number | undefined, fail: number | undefined, limit: number, size: (quality: number) => Promise<number>): Promise<number | undefined> {
  // Only one side known: the slope comes from the step next to it.
  const a = pass ?? (fail === undefined ? undefined : fail - 1);
  const b = fail ?? (pass === undefined ? undefined : pass + 1);
  if (a === undefined || b === undefined || a === b || a < 1 || b > 100) return undefined;
  const [sa, sb] = await Promise.all([size(a), size(b)]);
  const slope = (Math.log(sb) - Math.log(sa)) / (b - a);
  if (!(slope > 0)) return undefined;
  return a + (Math.log(limit) - Math.log(sa)) / slope;
}

/**
 * One full encode as parallel strips joined with restart markers (./jpeg-strips.ts): an 8K
 * encode is one libjpeg pass on one core otherwise. Falls back to a single encode where the image
 * cannot be cut (or the strips would not join).
 */
async function encodeInStrips(raw: RawPixels, quality: number): Promise<Buffer> {
  const layout = raw.channels === 3 ? stripLayout(raw.width, raw.height, STRIPS) : undefined;
  if (!layout) return encodeJpeg(fromRaw(raw), quality);
  const rowBytes = raw.width * raw.channels;
  const strips = await Promise.all(
    Array.from({ length: layout.strips }, (_, i) => {
      const top = i * layout.rowsPerStrip;
      const height = Math.min(layout.rowsPerStrip, raw.height - top);
      return encodeJpeg(fromRaw({ ...raw, data: raw.data.subarray(top * rowBytes, (top + height) * rowBytes), height }), quality);
    }),
  );
  try {
    return joinJpegStrips(strips, raw.height, layout.rowsPerStrip);
  } catch {
    return encodeJpeg(fromRaw(raw), quality);
  }
}

/** The size an image must be scaled to so that width + height <= max (unchanged when it already is). */
export function fitWidthPlusHeight(width: number, height: number, max: number | undefined): { width: number; height: number } {
  if (max === undefined || width + height <= max) return { width, height };
  const factor = max / (width + height);
  const w = Math.max(1, Math.floor(width * factor));
  const h = Math.max(1, Math.min(max - w, Math.floor(height * factor)));
  return { width: w, height: h };
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

