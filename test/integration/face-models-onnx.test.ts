/**
 * The face models converted from tfjs to ONNX compute what tfjs computes: both nets are run on the
 * same inputs by tfjs (wasm) and by onnxruntime, and the resampling and weight decoding we wrote
 * instead of tfjs's are compared with tfjs's own.
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import { Tensor } from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelArtifactsFromFile, packageFile, requireModule } from '../../src/images/model-files.js';
import { loadShippedModel, type OnnxModel } from '../../src/images/onnx/onnx-runtime.js';
import { convertTfjsGraph } from '../../src/images/onnx/tfjs-graph-to-onnx.js';
import { UnsupportedGraphError, type TfjsNode } from '../../src/images/onnx/tfjs-graph.js';
import { decodeTfjsWeights, halfToFloat } from '../../src/images/onnx/tfjs-weights.js';
import { cropToGreyPlanes, resizeToPlanes } from '../../src/images/pixel-sampling.js';
import { loadTf, type Tf } from '../support/tfjs-reference.js';

let tf: Tf;
beforeAll(async () => {
  tf = await loadTf();
});

/** A deterministic pseudo-random sequence in [0, 1). */
function noise(count: number, seed: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  });
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

const nhwcToNchw = (tensor: TfCore.Tensor4D) => tf.transpose(tensor, [0, 3, 1, 2]).dataSync() as Float32Array;

async function tfjsGraph(file: string) {
  const converter = requireModule<{ loadGraphModel(handler: TfCore.io.IOHandler): Promise<{ execute(x: TfCore.Tensor, outputs: string[]): TfCore.Tensor | TfCore.Tensor[] }> }>(
    '@tensorflow/tfjs-converter',
  );
  const artifacts = await modelArtifactsFromFile<TfCore.io.ModelJSON & { modelTopology: { node: TfjsNode[] } }>(packageFile('@vladmandic/human', file), (json) => {
    // Let the description net take any input size, as onnxruntime's copy does.
    for (const node of json.modelTopology.node) if (node.op === 'Placeholder' && file.includes('faceres')) node.attr = { ...node.attr, shape: { shape: { dim: [-1, -1, -1, 3].map((size) => ({ size: String(size) })) } } } as never;
  });
  return converter.loadGraphModel({ load: async () => artifacts as TfCore.io.ModelArtifacts });
}

describe('tfjs graphs converted to ONNX', () => {
  it('FaceRes gives the same descriptor on onnxruntime as on tfjs (160 px and 224 px crops)', async () => {
    const net = await tfjsGraph('models/faceres.json');
    const onnx = await loadShippedModel({ packageName: '@vladmandic/human', file: 'models/faceres.json', outputs: ['global_pooling/Mean'] });
    for (const size of [160, 224]) {
      const input = tf.tensor4d(Float32Array.from(noise(size * size * 3, size), (v) => v * 255), [1, size, size, 3]);
      const expected = [net.execute(input, ['global_pooling/Mean'])].flat()[0];
      const results = await onnx.session.run({ [onnx.session.inputNames[0]!]: new Tensor('float32', nhwcToNchw(input), [1, 3, size, size]) });
      const actual = results[onnx.outputNames[0]!]!.data as Float32Array;
      const reference = expected!.dataSync() as Float32Array;
      expect(actual.length).toBe(1024);
      expect(maxDifference(actual, reference)).toBeLessThan(1e-4 * Math.max(...reference.map(Math.abs)));
    }
  });

  it('BlazeFace gives the same four outputs on onnxruntime as on tfjs', async () => {
    const net = await tfjsGraph('models/blazeface.json');
    const outputs = ['Identity', 'Identity_2', 'Identity_1', 'Identity_3'];
    const onnx: OnnxModel = await loadShippedModel({ packageName: '@vladmandic/human', file: 'models/blazeface.json', outputs });
    const input = tf.tensor4d(Float32Array.from(noise(256 * 256 * 3, 7), (v) => v * 2 - 1), [1, 256, 256, 3]);
    const expected = [net.execute(input, outputs)].flat();
    const results = await onnx.session.run({ [onnx.session.inputNames[0]!]: new Tensor('float32', nhwcToNchw(input), [1, 3, 256, 256]) });
    onnx.outputNames.forEach((name, i) => {
      const reference = expected[i]!.dataSync() as Float32Array;
      expect(results[name]!.dims).toEqual(expected[i]!.shape);
      expect(maxDifference(results[name]!.data as Float32Array, reference), name).toBeLessThan(1e-3);
    });
  });

  it('refuses an operation it cannot express, by name', () => {
    const nodes: TfjsNode[] = [
      { name: 'input', op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: '1' }, { size: '8' }, { size: '8' }, { size: '3' }] } } } as never },
      { name: 'odd', op: 'Softplus', input: ['input'] },
    ];
    expect(() => convertTfjsGraph({ nodes, weights: new Map(), outputs: ['odd'], name: 'test' })).toThrow(UnsupportedGraphError);
    expect(() => convertTfjsGraph({ nodes, weights: new Map(), outputs: ['odd'], name: 'test' })).toThrow(/Softplus/);
  });
});

describe('what replaces tfjs around the models', () => {
  it('decodes float32, int32 and float16-quantized weights as tfjs does', () => {
    const specs: TfCore.io.WeightsManifestEntry[] = [
      { name: 'f32', shape: [2, 3], dtype: 'float32' },
      { name: 'i32', shape: [4], dtype: 'int32' },
      { name: 'f16', shape: [5], dtype: 'float32', quantization: { dtype: 'float16' } },
      { name: 'u8', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
    ];
    const f32 = Float32Array.from([1.5, -2, 3.25, 0, 1e-3, -7]);
    const i32 = Int32Array.from([1, -2, 300000, 0]);
    const f16 = Uint16Array.from([0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff]); // 1, -2, ~1/3, smallest subnormal, 65504
    const u8 = Uint8Array.from([0, 2, 255]);
    const bytes = new Uint8Array(f32.byteLength + i32.byteLength + f16.byteLength + u8.byteLength);
    bytes.set(new Uint8Array(f32.buffer), 0);
    bytes.set(new Uint8Array(i32.buffer), 24);
    bytes.set(new Uint8Array(f16.buffer), 40);
    bytes.set(u8, 50);
    const ours = decodeTfjsWeights(bytes.buffer, specs);
    const theirs = tf.io.decodeWeights(bytes.buffer, specs);
    for (const spec of specs) {
      expect(Array.from(ours.get(spec.name)!.values), spec.name).toEqual(Array.from(theirs[spec.name]!.dataSync()));
      expect(ours.get(spec.name)!.shape).toEqual(spec.shape);
    }
    expect(halfToFloat(0x7c00)).toBe(Number.POSITIVE_INFINITY);
  });

  it('stretches pixels to the detector square exactly as tf.image.resizeBilinear does', () => {
    const width = 37;
    const height = 23;
    const data = Uint8Array.from(noise(width * height * 3, 3), (v) => Math.floor(v * 256));
    const ours = resizeToPlanes({ data, width, height, channels: 3 }, 16, 1 / 127.5, -1);
    const image = tf.tensor4d(Float32Array.from(data), [1, height, width, 3]);
    const theirs = nhwcToNchw(tf.sub(tf.div(tf.image.resizeBilinear(image, [16, 16]), 127.5), 1) as TfCore.Tensor4D);
    expect(maxDifference(ours, theirs)).toBeLessThan(1e-5);
  });

  it('crops a grey face square exactly as tf.image.cropAndResize does, black outside the picture', () => {
    const width = 40;
    const height = 30;
    const data = Uint8Array.from(noise(width * height * 4, 5), (v) => Math.floor(v * 256));
    const box = [-4, 10, 26, 40] as const; // top, left, bottom, right: leaves the picture at the top and the right
    const ours = cropToGreyPlanes({ data, width, height, channels: 4 }, box, 12);
    const rgb = tf.slice(tf.tensor4d(Float32Array.from(data), [1, height, width, 4]), [0, 0, 0, 0], [1, height, width, 3]) as TfCore.Tensor4D;
    const crop = tf.image.cropAndResize(rgb, [[box[0] / height, box[1] / width, box[2] / height, box[3] / width]], [0], [12, 12], 'bilinear', 0);
    const grey = tf.sum(tf.mul(crop, tf.tensor1d([0.299, 0.587, 0.114])), -1, true);
    const theirs = nhwcToNchw(tf.tile(grey, [1, 1, 1, 3]) as TfCore.Tensor4D);
    expect(maxDifference(ours, theirs)).toBeLessThan(1e-3);
    expect(ours[0]).toBe(0); // the top-left sample is above the picture
  });
});
