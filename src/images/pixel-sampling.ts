/**
 * Bilinear sampling of decoded pixels into the float planes the face models take, computed the way
 * TensorFlow does it (`tf.image.resizeBilinear` without aligned corners or half-pixel centres, and
 * `tf.image.cropAndResize` with zero extrapolation), so the models see what they were trained and
 * calibrated on. Pure functions over interleaved 8-bit pixels; outputs are planar (NCHW).
 */

/** Interleaved 8-bit pixels, row by row: RGB or RGBA. */
export interface Pixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/**
 * The RGB planes of `pixels` stretched to `size` x `size`, each sample mapped by `scale * v + offset`
 * (e.g. 1/127.5 and -1 for [-1, 1]). Returns 3 * size * size floats: R plane, G plane, B plane.
 */
export function resizeToPlanes(pixels: Pixels, size: number, scale = 1, offset = 0): Float32Array {
  const { data, width, height, channels } = checked(pixels);
  const out = new Float32Array(3 * size * size);
  const plane = size * size;
  const xs = sourceSteps(width, size);
  const ys = sourceSteps(height, size);
  for (let oy = 0; oy < size; oy++) {
    const { low: y0, high: y1, frac: fy } = ys[oy]!;
    for (let ox = 0; ox < size; ox++) {
      const { low: x0, high: x1, frac: fx } = xs[ox]!;
      for (let c = 0; c < 3; c++) {
        const topLeft = data[(y0 * width + x0) * channels + c]!;
        const topRight = data[(y0 * width + x1) * channels + c]!;
        const bottomLeft = data[(y1 * width + x0) * channels + c]!;
        const bottomRight = data[(y1 * width + x1) * channels + c]!;
        const top = topLeft + (topRight - topLeft) * fx;
        const bottom = bottomLeft + (bottomRight - bottomLeft) * fx;
        out[c * plane + oy * size + ox] = (top + (bottom - top) * fy) * scale + offset;
      }
    }
  }
  return out;
}

/** The pixels, if their buffer holds what their size says (a short one would read as NaN, silently). */
function checked(pixels: Pixels): Pixels {
  const { data, width, height, channels } = pixels;
  const valid = [width, height, channels].every((n) => Number.isInteger(n) && n > 0) && channels >= 3 && channels <= 4;
  if (!valid || data.length < width * height * channels) throw new RangeError(`pixels of ${width}x${height}x${channels} need ${width * height * channels} bytes, got ${data.length}`);
  return pixels;
}

/** For each output row (or column), the two source rows it blends and the weight of the second. */
function sourceSteps(inSize: number, outSize: number) {
  const scale = inSize / outSize;
  return Array.from({ length: outSize }, (_, i) => {
    const source = i * scale;
    const low = Math.floor(source);
    return { low: Math.min(low, inSize - 1), high: Math.min(Math.ceil(source), inSize - 1), frac: source - low };
  });
}

/** Luma weights (ITU-R BT.601). */
const LUMA = [0.299, 0.587, 0.114] as const;

/**
 * A square crop of `pixels` in grey, resized to `size` x `size` and repeated in three planes (the
 * description net takes RGB). `box` is [top, left, bottom, right] in pixels and may reach outside
 * the picture: samples there are black. Returns 3 * size * size floats in 0..255.
 */
export function cropToGreyPlanes(pixels: Pixels, box: readonly [number, number, number, number], size: number): Float32Array {
  const { data, width, height, channels } = checked(pixels);
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  // cropAndResize's box is normalised to the picture and sampled at (edge - 1) spacing.
  const [y1, x1, y2, x2] = [box[0] / height, box[1] / width, box[2] / height, box[3] / width];
  const yStep = size > 1 ? ((y2 - y1) * (height - 1)) / (size - 1) : 0;
  const xStep = size > 1 ? ((x2 - x1) * (width - 1)) / (size - 1) : 0;
  const luma = (index: number) => LUMA[0] * data[index]! + LUMA[1] * data[index + 1]! + LUMA[2] * data[index + 2]!;
  for (let oy = 0; oy < size; oy++) {
    const inY = size > 1 ? y1 * (height - 1) + oy * yStep : 0.5 * (y1 + y2) * (height - 1);
    if (inY < 0 || inY > height - 1) continue;
    const top = Math.floor(inY);
    const bottom = Math.ceil(inY);
    const fy = inY - top;
    for (let ox = 0; ox < size; ox++) {
      const inX = size > 1 ? x1 * (width - 1) + ox * xStep : 0.5 * (x1 + x2) * (width - 1);
      if (inX < 0 || inX > width - 1) continue;
      const left = Math.floor(inX);
      const right = Math.ceil(inX);
      const fx = inX - left;
      const topLeft = luma((top * width + left) * channels);
      const topRight = luma((top * width + right) * channels);
      const bottomLeft = luma((bottom * width + left) * channels);
      const bottomRight = luma((bottom * width + right) * channels);
      const upper = topLeft + (topRight - topLeft) * fx;
      const lower = bottomLeft + (bottomRight - bottomLeft) * fx;
      const value = upper + (lower - upper) * fy;
      const at = oy * size + ox;
      out[at] = value;
      out[plane + at] = value;
      out[2 * plane + at] = value;
    }
  }
  return out;
}
