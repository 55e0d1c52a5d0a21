import { faceModels } from './face-model-pool.js';
import { decodeForModel } from './model-input.js';

/** What the model multiplies each edge by. */
export const SUPER_RESOLUTION_SCALE = 4;
/**
 * Input tile edge. A 128 px tile (140 with its overlap) takes ~0.3-0.45 s of one core and ~100 MB
 * in its thread (the 48-channel activations at 4x); each pool thread runs one tile at a time.
 */
const TILE = 128;
/** Context read around each tile and thrown away, so tile seams do not show. */
const OVERLAP = 6;

/** Decoded RGB pixels. */
export interface RgbImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 3;
}

export interface SuperResolveOptions {
  /** Give up (answer undefined) when the whole image is not expected to finish within this. */
  budgetMs: number;
  signal?: AbortSignal;
}

/**
 * Enlarges an image 4x with a real super-resolution model: ESRGAN slim, converted from its tfjs
 * weights and run on onnxruntime in the model pool's threads (face-model-pool.ts), in 128 px
 * tiles with a 6 px overlap, one tile per thread at a time, so memory stays bounded whatever the
 * size and the event loop never runs the model. As tiles finish it projects the finishing time
 * from the pace so far and gives up, answering undefined, as soon as that passes `budgetMs` (the
 * caller then falls back to a plain resize). Rejects with the signal's reason when it aborts
 * (after the tiles already running finish: a thread is never stopped mid-run).
 */
export async function superResolve(image: Buffer, opts: SuperResolveOptions): Promise<RgbImage | undefined> {
  const started = performance.now();
  const input = await decodeForModel(image);
  const { width, height, channels } = input.info;
  const s = SUPER_RESOLUTION_SCALE;
  const out = Buffer.alloc(width * s * height * s * 3);
  const tiles = tileGrid(width, height);
  const totalPixels = tiles.reduce((sum, t) => sum + t.read.width * t.read.height, 0);
  const inFlight = Math.min(faceModels.size(), tiles.length);
  let next = 0;
  let done = 0;
  let donePixels = 0;
  let verdict: 'over budget' | undefined;

  const runTiles = async (): Promise<void> => {
    while (next < tiles.length && !verdict && !opts.signal?.aborted) {
      const { read, keep } = tiles[next++]!;
      const upscaled = await faceModels.superResolveTile(planesOf(input.data, width, channels, read), read.width, read.height);
      copyKept(upscaled, read, keep, out, width);
      done += 1;
      donePixels += read.width * read.height;
      // Judge the pace once every thread has finished a tile (the first one also opens the session).
      const projected = ((performance.now() - started) * totalPixels) / donePixels;
      if ((done >= inFlight || done === tiles.length) && projected > opts.budgetMs) verdict = 'over budget';
    }
  };
  await Promise.all(Array.from({ length: inFlight }, runTiles));
  opts.signal?.throwIfAborted();
  if (verdict) return undefined;
  return { data: out, width: width * s, height: height * s, channels: 3 };
}

interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The `read` rectangle of interleaved pixels as the model's NCHW float planes (RGB, 0..255). */
function planesOf(data: Buffer, width: number, channels: number, read: Rect): Float32Array {
  const plane = read.width * read.height;
  const planes = new Float32Array(plane * 3);
  for (let y = 0; y < read.height; y++) {
    for (let x = 0; x < read.width; x++) {
      const from = ((read.top + y) * width + read.left + x) * channels;
      const to = y * read.width + x;
      planes[to] = data[from]!;
      planes[plane + to] = data[from + 1]!;
      planes[2 * plane + to] = data[from + 2]!;
    }
  }
  return planes;
}

/** Copies the kept part of an upscaled tile (the tile without its overlap) into the output. */
function copyKept(upscaled: Uint8Array, read: Rect, keep: Rect, out: Buffer, width: number): void {
  const s = SUPER_RESOLUTION_SCALE;
  const readWidth = read.width * s;
  const dx = (keep.left - read.left) * s;
  const dy = (keep.top - read.top) * s;
  const rowBytes = keep.width * s * 3;
  for (let y = 0; y < keep.height * s; y++) {
    const rowFrom = ((dy + y) * readWidth + dx) * 3;
    const rowTo = ((keep.top * s + y) * width * s + keep.left * s) * 3;
    out.set(upscaled.subarray(rowFrom, rowFrom + rowBytes), rowTo);
  }
}

/** Tiles covering the image: `keep` partitions it, `read` is `keep` grown by the overlap (within the image). */
export function tileGrid(width: number, height: number, tile = TILE, overlap = OVERLAP): Array<{ read: Rect; keep: Rect }> {
  const tiles: Array<{ read: Rect; keep: Rect }> = [];
  for (let top = 0; top < height; top += tile) {
    for (let left = 0; left < width; left += tile) {
      const keep = { left, top, width: Math.min(tile, width - left), height: Math.min(tile, height - top) };
      const readLeft = Math.max(0, left - overlap);
      const readTop = Math.max(0, top - overlap);
      const read = {
        left: readLeft,
        top: readTop,
        width: Math.min(width, left + keep.width + overlap) - readLeft,
        height: Math.min(height, top + keep.height + overlap) - readTop,
      };
      tiles.push({ read, keep });
    }
  }
  return tiles;
}
