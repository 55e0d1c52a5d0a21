import type { WeightsManifestEntry } from '../model-files.js';
import type { TfjsWeight } from './tfjs-graph.js';

/**
 * Reads the weights of a tfjs model (its manifest entries over the concatenated shards) into typed
 * arrays, undoing tfjs's weight quantization (float16, or uint8/uint16 with a scale and minimum),
 * without starting a tfjs backend: the face-model threads need the numbers, not tensors.
 */
export function decodeTfjsWeights(data: ArrayBuffer, specs: readonly WeightsManifestEntry[]): Map<string, TfjsWeight> {
  const weights = new Map<string, TfjsWeight>();
  let offset = 0;
  for (const spec of specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const quantization = spec.quantization;
    const storedBytes = quantization ? bytesPer(quantization.dtype) : 4;
    const bytes = new DataView(data, offset, count * storedBytes);
    offset += count * storedBytes;
    weights.set(spec.name, { values: decode(bytes, count, spec, quantization), shape: spec.shape });
  }
  return weights;
}

function bytesPer(dtype: string): number {
  if (dtype === 'uint8') return 1;
  if (dtype === 'uint16' || dtype === 'float16') return 2;
  throw new Error(`unsupported weight quantization ${dtype}`);
}

function decode(bytes: DataView, count: number, spec: WeightsManifestEntry, quantization: WeightsManifestEntry['quantization']): Float32Array | Int32Array {
  if (spec.dtype === 'int32' && !quantization) return Int32Array.from({ length: count }, (_, i) => bytes.getInt32(i * 4, true));
  if (spec.dtype !== 'float32') throw new Error(`unsupported weight type ${spec.dtype} (${spec.name})`);
  if (!quantization) return Float32Array.from({ length: count }, (_, i) => bytes.getFloat32(i * 4, true));
  if (quantization.dtype === 'float16') return Float32Array.from({ length: count }, (_, i) => halfToFloat(bytes.getUint16(i * 2, true)));
  const { scale = 1, min = 0 } = quantization;
  const read = quantization.dtype === 'uint8' ? (i: number) => bytes.getUint8(i) : (i: number) => bytes.getUint16(i * 2, true);
  return Float32Array.from({ length: count }, (_, i) => read(i) * scale + min);
}

/** An IEEE 754 half-precision value as a number. */
export function halfToFloat(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >> 10) & 0x1f;
  const fraction = half & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
