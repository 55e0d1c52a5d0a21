import { Tensor } from 'onnxruntime-node';
import { openModel, type OnnxModel } from './onnx/onnx-runtime.js';
import { convertShippedModel, type ConvertedModel } from './onnx/shipped-model.js';
import { SUPER_RESOLUTION_MODEL } from './face-model-sources.js';

/**
 * One ESRGAN tile, as a model thread runs it (face-models.worker.ts): NCHW float planes of RGB
 * 0..255 in, the 4x tile out as interleaved RGB bytes (rounded, clamped). The rest of the process
 * reaches it through face-model-pool.ts; super-resolution.ts cuts the image into tiles.
 */

let converted: ConvertedModel | undefined;
let session: Promise<OnnxModel> | undefined;

/** The converted model this thread opens its session on (without it, the thread converts its own). */
export function useConvertedSuperResolutionModel(model: ConvertedModel | undefined): void {
  converted = model;
}

function load(): Promise<OnnxModel> {
  session ??= (async () => openModel(converted ?? (await convertShippedModel(SUPER_RESOLUTION_MODEL))))().catch((error: unknown) => {
    session = undefined;
    throw error;
  });
  return session;
}

/** Enlarges one tile 4x: `planes` holds 3 planes of `width` x `height` floats (0..255). */
export async function superResolveTile(planes: Float32Array, width: number, height: number): Promise<Uint8Array> {
  const { session: net, outputNames } = await load();
  const results = await net.run({ [net.inputNames[0]!]: new Tensor('float32', planes, [1, 3, height, width]) });
  const output = results[outputNames[0]!]!;
  const values = output.data as Float32Array;
  // Uint8ClampedArray rounds (half to even) and clamps to 0..255.
  const bytes = new Uint8Array(values.length);
  new Uint8ClampedArray(bytes.buffer).set(values);
  output.dispose();
  return bytes;
}
