import { decodeOptions, jpegOutput, sharp, uprightSize } from './sharp.js';

type Matrix3 = [[number, number, number], [number, number, number], [number, number, number]];

/** Half sepia, half the original colours: a warm tone that reads as "colourised" on a faded print. */
const WARM_TONE: Matrix3 = [
  [0.6965, 0.3845, 0.0945],
  [0.1745, 0.843, 0.084],
  [0.136, 0.267, 0.5655],
];

/** Options for the CPU restoration preview. */
export interface RestorePreviewOptions {
  colorize: boolean;
}

/**
 * A CPU stand-in for a restoration model: removes speckle (median 3), stretches levels to the
 * full range, sharpens gently and, when `colorize` is set, adds a warm sepia-to-colour tone (it
 * cannot invent real colours). Always returns an sRGB JPEG at quality 90, even for greyscale input.
 */
export async function restorePreview(photo: Buffer, opts: RestorePreviewOptions): Promise<Buffer> {
  const { width, height } = await uprightSize(photo);
  // Work in three-channel sRGB so a greyscale scan can take the tone.
  let pipeline = sharp(photo, decodeOptions())
    .flatten({ background: '#ffffff' })
    .pipelineColourspace('srgb')
    .median(3);
  if (opts.colorize) pipeline = pipeline.recomb(WARM_TONE).modulate({ saturation: 1.15 });
  return pipeline
    .sharpen({ sigma: 0.8, m1: 0.8, m2: 1.6 })
    .normalise()
    .toColourspace('srgb')
    .jpeg(jpegOutput(width * height))
    .toBuffer();
}
