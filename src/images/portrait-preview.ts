import type { Grade } from '../gpu/styles.js';
import { detectFaces, faceSquareOf, type FaceSquare } from './face-detector.js';
import { applyGrade } from './grade.js';
import { lookFromGrade, variantLook, type Look } from './looks.js';
import { anchorFromFace, seededRandom, shotFor, shotFrame, squareInShot, type FaceAnchor, type Region, type Size } from './portrait-frame.js';
import { decodeOptions, jpegOutput, sharp, uprightSize } from './sharp.js';
import { vignetteOverlay } from './vignette.js';

/** Options for the CPU portrait preview. */
export interface PortraitPreviewOptions {
  /** The look to render: a named Look (see looks.ts) or a style's plain Grade. */
  grade: Look | Grade;
  variants: number;
  seed: number;
  /** Size of the 4:5 variants (1024 x 1280 by default); square variants are width x width. */
  width?: number;
  height?: number;
}

/** The size of the image the attention analysis runs on: small is fast, too small misses faces. */
const ANALYSIS_EDGE = 320;
/** Edge of the grain tile, repeated over the picture. */
const GRAIN_TILE = 256;

/**
 * A CPU stand-in for a portrait model. Variant i frames reference photo `i % photos.length` around
 * its largest face (found by the face detector; sharp's attention strategy stands in when there is
 * none) with the i-th shot: a 4:5 headshot with the eyes on the upper third, a 4:5 head and
 * shoulders, a square close-up, a 4:5 with the face off-centre. Each is graded with the look
 * (nudged per variant), then glow, grain and vignette are laid over it, and it is encoded as JPEG
 * quality 90. Same photos, look and seed give the same bytes.
 */
export async function renderPortraitPreview(photos: Buffer[], opts: PortraitPreviewOptions): Promise<Buffer[]> {
  return (await renderPortraitSet(photos, opts)).images;
}

/** A rendered set, and where each variant shows its subject's face. */
export interface PortraitSet {
  images: Buffer[];
  /** The face's square in each variant's pixels; undefined where the photo showed no face (the framing guessed). */
  faces: Array<FaceSquare | undefined>;
}

/** {@link renderPortraitPreview}, also saying where it put each face (for the likeness gate, which then need not look for it). */
export async function renderPortraitSet(photos: Buffer[], opts: PortraitPreviewOptions): Promise<PortraitSet> {
  const width = opts.width ?? 1024;
  const height = opts.height ?? 1280;
  if (photos.length === 0) throw new RangeError('renderPortraitPreview needs at least one photo');
  if (!Number.isInteger(opts.variants) || opts.variants < 1) throw new RangeError(`Bad variant count: ${opts.variants}`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`Bad output size: ${width}x${height}`);
  }

  const used = photos.slice(0, Math.min(photos.length, opts.variants));
  const subjects: AnalysedPhoto[] = [];
  // One photo at a time: the face detector runs one at a time anyway.
  for (const photo of used) subjects.push(await analysePhoto(photo));
  const look = 'fade' in opts.grade ? opts.grade : lookFromGrade(opts.grade);

  const faces: Array<FaceSquare | undefined> = [];
  const variants = Array.from({ length: opts.variants }, (_, i) => {
    const index = i % used.length;
    const subject = subjects[index]!;
    const shot = shotFor(i);
    const size = shot.aspect === 1 ? { width, height: width } : { width, height };
    const frame = shotFrame(subject.size, subject.face, shot, i, opts.seed);
    faces.push(subject.square && squareInShot(subject.square, frame, size));
    return renderVariant(used[index]!, frame, { ...size, look: variantLook(look, i), seed: (opts.seed ^ Math.imul(i + 1, 0x27d4eb2f)) >>> 0 });
  });
  return { images: await Promise.all(variants), faces };
}

interface AnalysedPhoto {
  size: Size;
  face: FaceAnchor;
  /** The detected face's square; absent when no face was found. */
  square?: FaceSquare;
}

/** A photo's upright size and where its subject's face is: the largest detected face, else the most salient point. */
async function analysePhoto(photo: Buffer): Promise<AnalysedPhoto> {
  const size = await uprightSize(photo);
  const [largest] = await detectFaces(photo);
  if (largest) return { size, face: anchorFromFace(largest), square: faceSquareOf(largest) };

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
  // Without a face, guess one a third of the short edge tall around the focal point.
  return { size, face: { x: focus.x, eyeY: focus.y, faceHeight: Math.min(size.width, size.height) / 3 } };
}

interface VariantOptions {
  width: number;
  height: number;
  look: Look;
  seed: number;
}

/**
 * Crops, scales and grades one variant (pass 1), then lays glow, grain and vignette over the
 * graded pixels (pass 2), so the overlays are not graded again.
 */
async function renderVariant(photo: Buffer, frame: Region, opts: VariantOptions): Promise<Buffer> {
  const { look } = opts;
  const cropped = sharp(photo, decodeOptions())
    .extract(frame)
    .resize(opts.width, opts.height, { fit: 'cover', kernel: 'lanczos3' })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb');
  // Fade (matte blacks) folds into the grade's linear step: y = (1 - fade) * x + 255 * fade.
  const graded = await applyGrade(cropped, look, look.fade).raw().toBuffer({ resolveWithObject: true });
  const { width, height, channels } = graded.info;
  const raw = { width, height, channels };

  const overlays: Array<{ input: Buffer; raw: { width: number; height: number; channels: 1 | 2 | 3 | 4 }; blend?: 'screen' | 'soft-light' | 'over'; tile?: boolean }> = [];
  if (look.glow > 0) {
    const glow = await sharp(graded.data, { raw })
      .blur(Math.max(1, width / 60))
      .ensureAlpha(Math.min(1, look.glow))
      .raw()
      .toBuffer();
    overlays.push({ input: glow, raw: { width, height, channels: 4 }, blend: 'screen' });
  }
  if (look.grain > 0) {
    overlays.push({ input: grainTile(look.grain, opts.seed), raw: { width: GRAIN_TILE, height: GRAIN_TILE, channels: 4 }, blend: 'soft-light', tile: true });
  }
  if (look.vignette > 0) {
    const v = vignetteOverlay(width, height, look.vignette);
    overlays.push({ input: v.data, raw: { width: v.width, height: v.height, channels: v.channels } });
  }
  return sharp(graded.data, { raw })
    .composite(overlays)
    .jpeg(jpegOutput(width * height))
    .toBuffer();
}

/** Mid-grey noise (soft-light over a picture: mid-grey changes nothing), seeded, opaque. */
function grainTile(strength: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const amplitude = 90 * Math.min(1, strength);
  const data = Buffer.alloc(GRAIN_TILE * GRAIN_TILE * 4);
  for (let i = 0; i < data.length; i += 4) {
    // The sum of two uniforms: a cheap bell-shaped grain.
    const v = 128 + (random() + random() - 1) * amplitude;
    data[i] = data[i + 1] = data[i + 2] = v < 0 ? 0 : v > 255 ? 255 : v;
    data[i + 3] = 255;
  }
  return data;
}
