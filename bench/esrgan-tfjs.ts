import { pathToFileURL } from 'node:url';
import type * as TfCore from '@tensorflow/tfjs-core';
import { packageFile, requireModule } from '../src/images/model-files.js';
import { decodeForModel } from '../src/images/model-input.js';
import { loadTf } from '../src/images/tf-runtime.js';
import { tileGrid, type RgbImage, type SuperResolveOptions } from '../src/images/super-resolution.js';

/**
 * The bench's baseline: ESRGAN as Likeness ran it before onnxruntime (tfjs-layers on tfjs's wasm
 * backend, in process, one 128 px tile at a time), kept verbatim so both paths run in one bench.
 */

const SUPER_RESOLUTION_SCALE = 4;
/** The model: UpscalerJS's ESRGAN "slim" 4x (an RDN, ~0.9 MB of weights, MIT), as its npm package ships it. */
const MODEL_PACKAGE = '@upscalerjs/esrgan-slim';
const MODEL_JSON = 'models/x4/model.json';

interface LayersModel {
  predict(input: TfCore.Tensor): TfCore.Tensor | TfCore.Tensor[];
}

let model: Promise<LayersModel> | undefined;

function loadModel(): Promise<LayersModel> {
  model ??= (async () => {
    await loadTf();
    const layers = requireModule<{ loadLayersModel(url: string): Promise<LayersModel> }>('@tensorflow/tfjs-layers');
    return layers.loadLayersModel(pathToFileURL(packageFile(MODEL_PACKAGE, MODEL_JSON)).href);
  })().catch((error: unknown) => {
    model = undefined;
    throw error;
  });
  return model;
}

/**
 * Enlarges an image 4x with a real super-resolution model (ESRGAN slim, tfjs on the wasm backend,
 * in this process), in 128 px tiles with a 6 px overlap so memory stays small whatever the size.
 * After each tile it projects the finishing time from the speed so far and gives up, answering
 * undefined, as soon as that passes `budgetMs` (the caller then falls back to a plain resize).
 * Yields to the event loop between tiles; rejects with the signal's reason when it aborts.
 */
export async function superResolveTfjs(image: Buffer, opts: SuperResolveOptions): Promise<RgbImage | undefined> {
  const started = performance.now();
  const input = await decodeForModel(image);
  const { width, height } = input.info;
  const channels = input.info.channels;
  const tf = await loadTf();
  const net = await loadModel();
  const s = SUPER_RESOLUTION_SCALE;
  const out = Buffer.alloc(width * s * height * s * 3);
  const tiles = tileGrid(width, height);
  const totalPixels = tiles.reduce((sum, t) => sum + t.read.width * t.read.height, 0);
  let donePixels = 0;

  for (const [index, t] of tiles.entries()) {
    opts.signal?.throwIfAborted();
    const tileStarted = performance.now();
    const { read, keep } = t;
    const pixels = new Float32Array(read.width * read.height * 3);
    for (let y = 0; y < read.height; y++) {
      for (let x = 0; x < read.width; x++) {
        const from = ((read.top + y) * width + read.left + x) * channels;
        const to = (y * read.width + x) * 3;
        pixels[to] = input.data[from]!;
        pixels[to + 1] = input.data[from + 1]!;
        pixels[to + 2] = input.data[from + 2]!;
      }
    }
    const result = tf.tidy(() => {
      const predicted = net.predict(tf.tensor4d(pixels, [1, read.height, read.width, 3]));
      return Array.isArray(predicted) ? predicted[0]! : predicted;
    });
    const upscaled = (await result.data()) as Float32Array;
    result.dispose();

    // Copy the kept part (the tile without its overlap) into the output, clamped to 0..255.
    const readWidth = read.width * s;
    const dx = (keep.left - read.left) * s;
    const dy = (keep.top - read.top) * s;
    for (let y = 0; y < keep.height * s; y++) {
      const rowFrom = ((dy + y) * readWidth + dx) * 3;
      const rowTo = (((keep.top * s + y) * width * s) + keep.left * s) * 3;
      for (let i = 0; i < keep.width * s * 3; i++) {
        const v = upscaled[rowFrom + i]!;
        out[rowTo + i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
      }
    }

    donePixels += read.width * read.height;
    const elapsed = performance.now() - started;
    // The first tile also pays for compiling the model's kernels: judge the pace from the second on.
    const perPixel = (performance.now() - tileStarted) / (read.width * read.height);
    const projected = elapsed + (totalPixels - donePixels) * perPixel;
    if ((index > 0 || tiles.length === 1) && projected > opts.budgetMs) return undefined;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return { data: out, width: width * s, height: height * s, channels: 3 };
}

