import type { TfjsWeight } from './tfjs-graph.js';

/**
 * A nearest-neighbour upsampling by `s` followed by a k x k "same" convolution (stride 1), as
 * one convolution at the low resolution with s*s times the output channels, followed by ONNX's
 * DepthToSpace (DCR). Exact, not an approximation: output pixel (s*y + ry, s*x + rx) of the
 * original reads upsampled pixel (s*y + ry + dy) = low-res pixel y + floor((ry + dy) / s), so each
 * of the s*s sub-positions is a small convolution of the low-res input, and the zero padding
 * at the borders falls on the same pixels. It never builds the s*s larger tensor, and the
 * convolution's few output channels (3 for RGB) become s*s*3, which a GEMM runs far better.
 */

/** The folded convolution: ONNX OIHW kernel, its dims and the bias repeated per sub-position. */
export interface FoldedConv {
  kernel: Float32Array;
  dims: [number, number, number, number];
  bias: Float32Array;
}

/** Folds nearest upsampling by `s` into the conv after it (kernel in TensorFlow's HWIO, odd and square). */
export function foldNearestUpsampleIntoConv(kernel: TfjsWeight, bias: Float32Array | undefined, s: number): FoldedConv {
  const [kh, kw, ci, co] = kernel.shape as [number, number, number, number];
  if (kh !== kw || kh % 2 !== 1) throw new RangeError(`fold needs an odd square kernel, not ${kh}x${kw}`);
  const half = (kh - 1) / 2;
  // Low-res taps reach from floor(-half / s) to floor((s - 1 + half) / s): pad symmetrically to the larger.
  const reach = Math.max(-Math.floor(-half / s), Math.floor((s - 1 + half) / s));
  const k = 2 * reach + 1;
  const outChannels = s * s * co;
  const folded = new Float32Array(outChannels * ci * k * k);
  for (let ry = 0; ry < s; ry++)
    for (let rx = 0; rx < s; rx++)
      for (let dy = -half; dy <= half; dy++)
        for (let dx = -half; dx <= half; dx++) {
          const ly = Math.floor((ry + dy) / s) + reach;
          const lx = Math.floor((rx + dx) / s) + reach;
          for (let o = 0; o < co; o++) {
            const oc = (ry * s + rx) * co + o; // DepthToSpace DCR: channel (ry, rx, o)
            for (let c = 0; c < ci; c++) folded[((oc * ci + c) * k + ly) * k + lx]! += kernel.values[(((dy + half) * kw + dx + half) * ci + c) * co + o]!;
          }
        }
  const repeated = new Float32Array(outChannels);
  if (bias) for (let i = 0; i < outChannels; i++) repeated[i] = bias[i % co]!;
  return { kernel: folded, dims: [outChannels, ci, k, k], bias: repeated };
}
