/**
 * A small sample of an image whose JPEG size per pixel predicts the whole image's: short runs of
 * whole MCUs (16 x 256 px, block-aligned as in the full image, so each block is coded as it would
 * be there) taken from every part of the image and packed into a mosaic. Pure: raw pixels in, raw
 * pixels out.
 *
 * Why runs: JPEG codes each block independently but for its DC coefficient, which is coded as the
 * difference from the block before. Big tiles (a 5 x 5 grid of 256 px squares) sample only 25
 * places and miss what lies between them (a textured half, a flat half: 10-20% off); single MCUs
 * sample everywhere but put unrelated blocks side by side, inflating the DC differences (10% too
 * big). Runs of 16 MCUs from a jittered lattice over the whole image were within -2%..+6% of the
 * full size on the images tried (noisy, textured, half flat, upscaled portraits), and steady
 * across qualities, which is what the calibration after the first full encode relies on.
 */

/** Decoded pixels, row-major, `channels` bytes a pixel. */
export interface RawPixels {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

const MCU = 16;
/** MCUs per run. */
const RUN_MCUS = 16;
const RUN_WIDTH = RUN_MCUS * MCU;
/** Runs per mosaic row (a 1280 px wide mosaic). */
const RUNS_PER_ROW = 5;
/** The share of the image sampled: 1/29 of an 8K image is ~1.6 MP, ~1/30 of a full encode's time per trial. */
const SHARE = 1 / 29;
/** Smaller images are sampled more densely, down to this many pixels... */
const MIN_SAMPLE_PIXELS = 400_000;
/** ...but never more than this share. */
const MAX_SHARE = 1 / 4;

/**
 * The sample mosaic of `raw` and how many of its pixels stand for one sample pixel; undefined when
 * the image is too small to sample (narrower than one run, or fewer rows than a mosaic needs).
 */
export function sizeSample(raw: RawPixels): { sample: RawPixels; scale: number } | undefined {
  const slotsPerRow = Math.floor(raw.width / RUN_WIDTH);
  const mcuRows = Math.floor(raw.height / MCU);
  const slots = slotsPerRow * mcuRows;
  if (slots < RUNS_PER_ROW) return undefined;
  const pixels = raw.width * raw.height;
  const share = Math.min(MAX_SHARE, Math.max(SHARE, MIN_SAMPLE_PIXELS / pixels));
  const rows = Math.max(1, Math.floor((slots * share) / RUNS_PER_ROW));
  const count = rows * RUNS_PER_ROW;
  const stride = slots / count;
  const width = RUNS_PER_ROW * RUN_WIDTH;
  const height = rows * MCU;
  const data = Buffer.alloc(width * height * raw.channels);
  const runBytes = RUN_WIDTH * raw.channels;
  // A fixed pseudo-random jitter inside each stride: spread like a lattice, without lining up with
  // a pattern that repeats in the image. Fixed, so the same image always gets the same sample.
  let seed = 0x9e3779b9;
  const jitter = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < count; i++) {
    const slot = Math.min(slots - 1, Math.floor((i + jitter()) * stride));
    const top = Math.floor(slot / slotsPerRow) * MCU;
    const left = (slot % slotsPerRow) * RUN_WIDTH;
    const toTop = Math.floor(i / RUNS_PER_ROW) * MCU;
    const toLeft = (i % RUNS_PER_ROW) * RUN_WIDTH;
    for (let y = 0; y < MCU; y++) {
      const from = ((top + y) * raw.width + left) * raw.channels;
      raw.data.copy(data, ((toTop + y) * width + toLeft) * raw.channels, from, from + runBytes);
    }
  }
  return { sample: { data, width, height, channels: raw.channels }, scale: pixels / (width * height) };
}
