import type { TfjsWeight } from './tfjs-graph.js';

/** Convolution kernels moved from TensorFlow's layouts to ONNX's (pure array reordering). */

/** The ONNX shape of a TensorFlow conv kernel. */
export function oihwDims(hwio: number[]): number[] {
  const [h, w, i, o] = hwio as [number, number, number, number];
  return [o, i, h, w];
}

/** TensorFlow's conv kernel [H, W, In, Out] as ONNX's [Out, In, H, W]. */
export function hwioToOihw({ values, shape }: TfjsWeight): Float32Array {
  const [h, w, i, o] = shape as [number, number, number, number];
  const out = new Float32Array(values.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < i; c++)
        for (let k = 0; k < o; k++) out[((k * i + c) * h + y) * w + x] = values[((y * w + x) * i + c) * o + k]!;
  return out;
}

/** TensorFlow's depthwise kernel [H, W, C, M] as ONNX's grouped [C*M, 1, H, W]. */
export function depthwiseToOihw({ values, shape }: TfjsWeight): Float32Array {
  const [h, w, c, m] = shape as [number, number, number, number];
  const out = new Float32Array(values.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ch = 0; ch < c; ch++)
        for (let k = 0; k < m; k++) out[((ch * m + k) * h + y) * w + x] = values[((y * w + x) * c + ch) * m + k]!;
  return out;
}
