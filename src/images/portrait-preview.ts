import type { Grade } from '../gpu/styles.js';
import { applyGrade } from './grade.js';
import { portraitFrame, type Point, type Region, type Size } from './portrait-frame.js';
import { decodeOptions, jpegOutput, sharp, uprightSize } from './sharp.js';
import { vignetteOverlay, type RawOverlay } from './vignette.js';

/** Options for the CPU portrait preview. */
export interface PortraitPreviewOptions {
  grade: Grade;
  variants: number;
  seed: number;
  /** Output size; 4:5 by default (1024 x 1280). */
  width?: number;
  height?: number;
}

/** The size of the image the attention analysis runs on: small is fast, too small misses faces. */
const ANALYSIS_EDGE = 320;

/**
 * A CPU stand-in for a portrait model: variant i frames reference photo `i % photos.length` around
 * its most salient region (faces and skin rank high), each variant framed tighter or looser and
 * nudged by the seed, then graded with the style's Grade and encoded as JPEG quality 90.
 * Same photos, grade and seed give the same bytes.
 */
export async function renderPortraitPreview(photos: Buffer[], opts: PortraitPreviewOptions): Promise<Buffer[]> {
  const width = opts.width ?? 1024;
  const height = opts.height ?? 1280;
  if (photos.length === 0) throw new RangeError('renderPortraitPreview needs at least one photo');
  if (!Number.isInteger(opts.variants) || opts.variants < 1) throw new RangeError(`Bad variant count: ${opts.variants}`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`Bad output size: ${width}x${height}`);
  }

  const used = photos.slice(0, Math.min(photos.length, opts.variants));
  const subjects = await Promise.all(used.map(analysePhoto));
  const vignette = opts.grade.vignette > 0 ? vignetteOverlay(width, height, opts.grade.vignette) : undefined;

  const variants = Array.from({ length: opts.variants }, (_, i) => {
    const index = i % used.length;
    const subject = subjects[index]!;
    const frame = portraitFrame(subject.size, subject.focus, width / height, i, opts.seed);
    return renderVariant(used[index]!, frame, { width, height, grade: opts.grade, vignette });
  });
  return Promise.all(variants);
}

interface AnalysedPhoto {
  size: Size;
  focus: Point;
}

/** Finds a photo's upright size and its most salient point, using sharp's attention crop strategy. */
async function analysePhoto(photo: Buffer): Promise<AnalysedPhoto> {
  const size = await uprightSize(photo);
  // Attention reports a focal point only when it has to crop, so analyse a box whose shape
  // differs from the photo's: 4:5 for landscape and square photos, square for portrait ones.
  const box = size.width >= size.height
    ? { width: Math.round(ANALYSIS_EDGE * 0.8), height: ANALYSIS_EDGE }
    : { width: ANALYSIS_EDGE, height: ANALYSIS_EDGE };
  const { info } = await sharp(photo, decodeOptions())
    .resize(box.width, box.height, { fit: 'cover', position: sharp.strategy.attention })
    .raw()
    .toBuffer({ resolveWithObject: true });
  // The focal point is in the coordinates of the photo scaled to cover the box, before cropping.
  const scale = Math.max(box.width / size.width, box.height / size.height);
  const focus = info.attentionX !== undefined && info.attentionY !== undefined
    ? { x: info.attentionX / scale, y: info.attentionY / scale }
    : { x: size.width / 2, y: size.height * 0.4 };
  return { size, focus };
}

interface VariantOptions {
  width: number;
  height: number;
  grade: Grade;
  vignette: RawOverlay | undefined;
}

/** Crops, scales and grades one variant, then darkens the edges: two passes, so the vignette is not re-graded. */
async function renderVariant(photo: Buffer, frame: Region, opts: VariantOptions): Promise<Buffer> {
  const cropped = sharp(photo, decodeOptions())
    .extract(frame)
    .resize(opts.width, opts.height, { fit: 'cover', kernel: 'lanczos3' })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb');
  const graded = await applyGrade(cropped, opts.grade).raw().toBuffer({ resolveWithObject: true });

  const { width, height, channels } = graded.info;
  const overlay = opts.vignette
    ? [{ input: opts.vignette.data, raw: { width: opts.vignette.width, height: opts.vignette.height, channels: opts.vignette.channels } }]
    : [];
  return sharp(graded.data, { raw: { width, height, channels } })
    .composite(overlay)
    .jpeg(jpegOutput(width * height))
    .toBuffer();
}
