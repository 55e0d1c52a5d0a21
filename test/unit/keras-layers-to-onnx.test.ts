/**
 * The Keras-layers converter, layer by layer: small models with made-up weights are converted and
 * run on onnxruntime, and compared with a plain reference written here in NHWC, as tfjs computes.
 */
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { convertKerasLayers, type KerasLayer, type KerasModelConfig } from '../../src/images/onnx/keras-layers-to-onnx.js';
import { encodeOnnxModel } from '../../src/images/onnx/onnx-proto.js';
import { UnsupportedGraphError, type TfjsWeight } from '../../src/images/onnx/tfjs-graph.js';

/** A deterministic pseudo-random sequence in [-1, 1). */
function noise(count: number, seed: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state / 2 ** 32) * 2 - 1;
  });
}

interface Nhwc {
  data: Float32Array;
  h: number;
  w: number;
  c: number;
}

const layer = (class_name: string, name: string, inbound: string[], config: Record<string, unknown> = {}): KerasLayer => ({
  class_name,
  name,
  config: { name, ...config },
  inbound_nodes: inbound.length ? [inbound.map((n) => [n, 0, 0, {}] as [string, number, number, unknown])] : [],
});
const input = (channels: number) => layer('InputLayer', 'in', [], { batch_input_shape: [null, null, null, channels] });
const model = (layers: KerasLayer[], output: string): KerasModelConfig => ({
  class_name: 'Functional',
  config: { layers, input_layers: [['in', 0, 0]], output_layers: [[output, 0, 0]] },
});

async function run(config: KerasModelConfig, weights: Map<string, TfjsWeight>, x: Nhwc, foldUpsampling = true): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const graph = convertKerasLayers({ model: config, weights, name: 'test', foldUpsampling });
  const session = await InferenceSession.create(encodeOnnxModel(graph));
  const nchw = new Float32Array(x.data.length);
  for (let y = 0; y < x.h; y++) for (let i = 0; i < x.w; i++) for (let c = 0; c < x.c; c++) nchw[(c * x.h + y) * x.w + i] = x.data[(y * x.w + i) * x.c + c]!;
  const results = await session.run({ [session.inputNames[0]!]: new Tensor('float32', nchw, [1, x.c, x.h, x.w]) });
  const out = results[session.outputNames[0]!]!;
  return { data: out.data as Float32Array, dims: out.dims };
}

/** Keras Conv2D, "same" padding, stride 1: kernel [kh, kw, in, out]. */
function conv(x: Nhwc, kernel: TfjsWeight, bias: Float32Array): Nhwc {
  const [kh, kw, ci, co] = kernel.shape as [number, number, number, number];
  const out = new Float32Array(x.h * x.w * co);
  for (let y = 0; y < x.h; y++)
    for (let i = 0; i < x.w; i++)
      for (let o = 0; o < co; o++) {
        let sum = bias[o]!;
        for (let dy = 0; dy < kh; dy++)
          for (let dx = 0; dx < kw; dx++) {
            const sy = y + dy - ((kh - 1) >> 1);
            const sx = i + dx - ((kw - 1) >> 1);
            if (sy < 0 || sx < 0 || sy >= x.h || sx >= x.w) continue;
            for (let c = 0; c < ci; c++) sum += x.data[(sy * x.w + sx) * ci + c]! * kernel.values[((dy * kw + dx) * ci + c) * co + o]!;
          }
        out[(y * x.w + i) * co + o] = sum;
      }
  return { data: out, h: x.h, w: x.w, c: co };
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('Keras layers converted to ONNX', () => {
  const x: Nhwc = { data: noise(7 * 9 * 3, 1), h: 7, w: 9, c: 3 };
  const kernel = { values: noise(3 * 3 * 3 * 4, 2), shape: [3, 3, 3, 4] };
  const bias = noise(4, 3);
  const weights = new Map<string, TfjsWeight>([
    ['conv/kernel', kernel],
    ['conv/bias', { values: bias, shape: [4] }],
  ]);

  it('Conv2D with "same" padding, bias and a relu activation, NHWC out', async () => {
    const config = model([input(3), layer('Conv2D', 'conv', ['in'], { padding: 'same', activation: 'relu', kernel_size: [3, 3], strides: [1, 1], dilation_rate: [1, 1], groups: 1, use_bias: true })], 'conv');
    const { data, dims } = await run(config, weights, x);
    expect(dims).toEqual([1, 7, 9, 4]);
    const expected = conv(x, kernel, bias).data.map((v) => Math.max(0, v));
    expect(maxDifference(data, expected)).toBeLessThan(1e-5);
  });

  it('Concatenate on channels, Add, LeakyReLU and a nearest UpSampling2D', async () => {
    const config = model(
      [
        input(3),
        layer('Conv2D', 'conv', ['in'], { padding: 'same', activation: 'linear', use_bias: true }),
        layer('Concatenate', 'cat', ['in', 'conv'], { axis: 3 }),
        layer('Add', 'sum', ['cat', 'cat']),
        layer('LeakyReLU', 'leaky', ['sum'], { alpha: 0.2 }),
        layer('UpSampling2D', 'up', ['leaky'], { size: [2, 3], interpolation: 'nearest', data_format: 'channels_last' }),
      ],
      'up',
    );
    const { data, dims } = await run(config, weights, x);
    expect(dims).toEqual([1, 14, 27, 7]);
    const convolved = conv(x, kernel, bias);
    const expected = new Float32Array(14 * 27 * 7);
    for (let y = 0; y < 14; y++)
      for (let i = 0; i < 27; i++)
        for (let c = 0; c < 7; c++) {
          const sy = Math.floor(y / 2);
          const sx = Math.floor(i / 3);
          const v = c < 3 ? x.data[(sy * 9 + sx) * 3 + c]! : convolved.data[(sy * 9 + sx) * 4 + c - 3]!;
          const doubled = 2 * v;
          expected[(y * 27 + i) * 7 + c] = doubled >= 0 ? doubled : 0.2 * doubled;
        }
    expect(maxDifference(data, expected)).toBeLessThan(1e-5);
  });

  it.each([
    [4, 3],
    [2, 5],
    [3, 3],
  ])('folds a nearest UpSampling2D by %i into the %ix%i "same" Conv2D after it, exactly (DepthToSpace)', async (scale, k) => {
    const folding = new Map<string, TfjsWeight>([
      ['conv/kernel', { values: noise(k * k * 3 * 2, 4), shape: [k, k, 3, 2] }],
      ['conv/bias', { values: noise(2, 5), shape: [2] }],
    ]);
    const config = model(
      [
        input(3),
        layer('UpSampling2D', 'up', ['in'], { size: [scale, scale], interpolation: 'nearest' }),
        layer('Conv2D', 'conv', ['up'], { padding: 'same', activation: 'relu', kernel_size: [k, k], strides: [1, 1], dilation_rate: [1, 1], groups: 1, use_bias: true }),
      ],
      'conv',
    );
    const graph = convertKerasLayers({ model: config, weights: folding, name: 'test' });
    expect(graph.nodes.map((node) => node.opType)).toEqual(['Conv', 'DepthToSpace', 'Relu', 'Transpose']);
    const folded = await run(config, folding, x);
    const plain = await run(config, folding, x, false);
    expect(folded.dims).toEqual([1, 7 * scale, 9 * scale, 2]);
    expect(folded.dims).toEqual(plain.dims);
    expect(maxDifference(folded.data, plain.data)).toBeLessThan(1e-5);
  });

  it('refuses a layer or a setting it cannot express, by name', () => {
    expect(() => convertKerasLayers({ model: model([input(3), layer('Dense', 'fc', ['in'])], 'fc'), weights, name: 'test' })).toThrow(UnsupportedGraphError);
    expect(() => convertKerasLayers({ model: model([input(3), layer('Dense', 'fc', ['in'])], 'fc'), weights, name: 'test' })).toThrow(/Dense/);
    const bilinear = model([input(3), layer('UpSampling2D', 'up', ['in'], { size: [2, 2], interpolation: 'bilinear' })], 'up');
    expect(() => convertKerasLayers({ model: bilinear, weights, name: 'test' })).toThrow(/bilinear/);
    const gelu = model([input(3), layer('Activation', 'act', ['in'], { activation: 'gelu' })], 'act');
    expect(() => convertKerasLayers({ model: gelu, weights, name: 'test' })).toThrow(/gelu/);
  });
});
