import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { AppError, type ErrorCode } from '../../src/errors.js';
import type { GpuTask } from '../../src/gpu/backend.js';
import { createLocalBackend } from '../../src/gpu/local.backend.js';
import { createStyleCatalog, type Grade } from '../../src/gpu/styles.js';
import {
  detectFaces,
  encodeToFit,
  imageInfo,
  inspectPhoto,
  labelOutput,
  LOOKS,
  normalizePhoto,
  PLATFORM_RULES,
  readXmp,
  renderPortraitPreview,
  resizeToLongEdge,
  restorePreview,
  upscaleToLongEdge,
  withProvenance,
  type PhotoLimits,
} from '../../src/images/index.js';
import { joinJpegStrips, stripLayout } from '../../src/images/jpeg-strips.js';
import { superResolve } from '../../src/images/super-resolution.js';
import { pngHeaderClaiming } from '../support/hostile-images.js';

const LIMITS: PhotoLimits = { maxBytes: 20 * 1024 * 1024, maxPixels: 50_000_000 };
const astronaut = readFileSync(new URL('../../samples/astronaut.jpg', import.meta.url));
const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));
const TRAINED = 'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia';

const NEUTRAL: Grade = { saturation: 1, brightness: 1, contrast: 1, tint: [1, 1, 1], greyscale: false, blur: 0, vignette: 0 };
const STUDIO: Grade = { ...NEUTRAL, saturation: 1.05, brightness: 1.03, contrast: 1.08, tint: [1.03, 1, 0.98], vignette: 0.25 };
const NOIR: Grade = { ...NEUTRAL, greyscale: true, contrast: 1.45, brightness: 0.88, vignette: 0.6, blur: 0.5 };

/** Resolves to the AppError code a promise rejects with (fails the test if it resolves). */
async function codeOf(promise: Promise<unknown>): Promise<ErrorCode> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  const appError = error as AppError;
  expect(appError.retryable).toBe(false);
  return appError.code;
}

/** A three-frame animated GIF, 32x32 per frame: red, then green, then blue. */
async function animatedGif(): Promise<Buffer> {
  const frame = 32 * 32 * 3;
  const pixels = Buffer.alloc(frame * 3);
  for (let i = 0; i < 32 * 32 * 3; i++) pixels[i * 3 + Math.floor(i / (32 * 32))] = 255;
  return sharp(pixels, { raw: { width: 32, height: 96, channels: 3, pageHeight: 32 } }).gif().toBuffer();
}

/** Mean of each channel of an encoded image. */
async function channelMeans(image: Buffer): Promise<number[]> {
  const stats = await sharp(image).stats();
  return stats.channels.map((c) => c.mean);
}

describe('inspectPhoto', () => {
  const small = sharp(astronaut).resize(96, 96);

  it.each([
    ['jpeg', () => small.clone().jpeg().toBuffer()],
    ['png', () => small.clone().png().toBuffer()],
    ['webp', () => small.clone().webp().toBuffer()],
    ['avif', () => small.clone().avif({ effort: 0 }).toBuffer()],
    ['gif', () => animatedGif()],
  ] as const)('accepts %s, recognised by content', async (format, make) => {
    const info = await inspectPhoto(await make(), LIMITS);
    expect(info.format).toBe(format);
    expect(info.width).toBeGreaterThan(0);
    expect(info.height).toBe(info.width); // a GIF reports its first frame, not the strip
  });

  it('accepts HEIC from a phone (HEVC, decoded by libheif wasm), recognised by content', async () => {
    expect(await inspectPhoto(fixture('astronaut.heic'), LIMITS)).toEqual({ format: 'heic', width: 320, height: 320 });
  });

  it('refuses a truncated HEIC as corrupt', async () => {
    const heic = fixture('astronaut.heic');
    expect(await codeOf(inspectPhoto(heic.subarray(0, heic.length - 4000), LIMITS))).toBe('CORRUPT_IMAGE');
  });

  it('refuses an empty file', async () => {
    expect(await codeOf(inspectPhoto(Buffer.alloc(0), LIMITS))).toBe('FILE_EMPTY');
  });

  it('refuses a file over the byte limit before decoding it', async () => {
    expect(await codeOf(inspectPhoto(astronaut, { ...LIMITS, maxBytes: astronaut.length - 1 }))).toBe('FILE_TOO_LARGE');
  });

  it.each([
    ['text', async () => Buffer.from('hello, this is not a photo\n'.repeat(20))],
    ['PDF', async () => Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n')],
    ['SVG', async () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="30"/></svg>')],
    ['TIFF', () => sharp({ create: { width: 32, height: 32, channels: 3, background: '#336699' } }).tiff().toBuffer()],
  ])('refuses %s as an unsupported format', async (_name, make) => {
    expect(await codeOf(inspectPhoto(await make(), LIMITS))).toBe('UNSUPPORTED_FORMAT');
  });

  it('refuses a truncated JPEG as corrupt', async () => {
    const truncated = astronaut.subarray(0, Math.floor(astronaut.length * 0.6));
    expect(await codeOf(inspectPhoto(truncated, LIMITS))).toBe('CORRUPT_IMAGE');
  });

  it('refuses bytes that start like a JPEG but are garbage as corrupt', async () => {
    const garbage = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200, 0x5a)]);
    expect(await codeOf(inspectPhoto(garbage, LIMITS))).toBe('CORRUPT_IMAGE');
  });

  it('refuses a 30000x30000 PNG from its header, in milliseconds', async () => {
    const bomb = pngHeaderClaiming(30_000, 30_000);
    const started = performance.now();
    const code = await codeOf(inspectPhoto(bomb, LIMITS));
    expect(code).toBe('IMAGE_TOO_LARGE');
    expect(performance.now() - started).toBeLessThan(250);
  });
});

describe('normalizePhoto', () => {
  it('turns a photo upright by EXIF and strips EXIF, GPS, XMP and ICC', async () => {
    // 300x100: red on the left, blue on the right; orientation 6 means "rotate 90° clockwise to view",
    // so upright it is 100x300 with red on top.
    const red = await sharp({ create: { width: 150, height: 100, channels: 3, background: '#ff0000' } }).png().toBuffer();
    const input = await sharp({ create: { width: 300, height: 100, channels: 3, background: '#0000ff' } })
      .composite([{ input: red, left: 0, top: 0 }])
      .withExif({ IFD0: { Artist: 'Someone', Copyright: 'Someone' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1' } })
      .withMetadata({ orientation: 6 })
      .withIccProfile('p3')
      .withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>')
      .jpeg()
      .toBuffer();
    const before = await sharp(input).metadata();
    expect([before.orientation, Boolean(before.exif), Boolean(before.xmp), Boolean(before.icc)]).toEqual([6, true, true, true]);

    const out = await normalizePhoto(input, LIMITS);
    const meta = await sharp(out.bytes).metadata();
    expect({ width: out.width, height: out.height }).toEqual({ width: 100, height: 300 });
    expect(meta).toMatchObject({ format: 'jpeg', width: 100, height: 300, space: 'srgb', channels: 3 });
    expect(meta.orientation).toBeUndefined();
    expect(meta.exif).toBeUndefined();
    expect(meta.xmp).toBeUndefined();
    expect(meta.icc).toBeUndefined();
    const top = await channelMeans(await sharp(out.bytes).extract({ left: 0, top: 0, width: 100, height: 100 }).png().toBuffer());
    expect(top[0]).toBeGreaterThan(200);
    expect(top[2]).toBeLessThan(60);
    // Nothing of the camera's metadata survives anywhere in the bytes: no EXIF or XMP segment, no artist.
    expect(out.bytes.includes(Buffer.from('Exif\0\0'))).toBe(false);
    expect(out.bytes.includes(Buffer.from('ns.adobe.com/xap'))).toBe(false);
    expect(out.bytes.includes(Buffer.from('Someone'))).toBe(false);
  });

  it('decodes a HEIC photo into a plain sRGB JPEG', async () => {
    const out = await normalizePhoto(fixture('astronaut.heic'), LIMITS);
    expect(await sharp(out.bytes).metadata()).toMatchObject({ format: 'jpeg', width: 320, height: 320, space: 'srgb', channels: 3 });
    const [r, g, b] = await channelMeans(out.bytes);
    expect(r! - b!).toBeGreaterThan(10); // the orange suit and warm backdrop came through in colour
    expect(g).toBeGreaterThan(50);
  });

  it('fits a large photo inside 2048 px and never enlarges a small one', async () => {
    const large = await sharp({ create: { width: 3000, height: 1000, channels: 3, background: '#808080' } }).png().toBuffer();
    expect(await normalizePhoto(large, LIMITS)).toMatchObject({ width: 2048, height: 683 });
    expect(await normalizePhoto(astronaut, LIMITS)).toMatchObject({ width: 512, height: 512 });
  });

  it('keeps the first frame of a GIF and flattens transparency', async () => {
    const out = await normalizePhoto(await animatedGif(), LIMITS);
    expect({ width: out.width, height: out.height }).toEqual({ width: 32, height: 32 });
    const [r, g, b] = await channelMeans(out.bytes);
    expect(r).toBeGreaterThan(200);
    expect(g! + b!).toBeLessThan(60);

    const clear = await sharp({ create: { width: 40, height: 40, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const flattened = await normalizePhoto(clear, LIMITS);
    expect((await channelMeans(flattened.bytes))[0]).toBeGreaterThan(250);
  });

  it('refuses what inspectPhoto refuses', async () => {
    expect(await codeOf(normalizePhoto(pngHeaderClaiming(30_000, 30_000), LIMITS))).toBe('IMAGE_TOO_LARGE');
    expect(await codeOf(normalizePhoto(astronaut.subarray(0, 20_000), LIMITS))).toBe('CORRUPT_IMAGE');
    expect(await codeOf(normalizePhoto(Buffer.from('%PDF-1.4\n'), LIMITS))).toBe('UNSUPPORTED_FORMAT');
  });
});

describe('renderPortraitPreview', () => {
  it('renders four distinct variants: three 4:5 (1024x1280) and a square', async () => {
    const variants = await renderPortraitPreview([astronaut], { grade: STUDIO, variants: 4, seed: 7 });
    expect(variants).toHaveLength(4);
    const sizes = await Promise.all(variants.map(async (v) => (await imageInfo(v)) as { width: number; height: number; format: string }));
    expect(sizes.map((i) => [i.format, i.width, i.height])).toEqual([
      ['jpeg', 1024, 1280],
      ['jpeg', 1024, 1280],
      ['jpeg', 1024, 1024],
      ['jpeg', 1024, 1280],
    ]);
    const means = await Promise.all(variants.map(channelMeans));
    for (let i = 0; i < variants.length; i++) {
      for (let j = i + 1; j < variants.length; j++) {
        expect(variants[i]!.equals(variants[j]!)).toBe(false);
        expect(means[i]).not.toEqual(means[j]);
      }
    }
  });

  it('is deterministic for a seed and changes with it', async () => {
    const opts = { grade: STUDIO, variants: 2, seed: 42, width: 320, height: 400 };
    const [first, again, other] = await Promise.all([
      renderPortraitPreview([astronaut], opts),
      renderPortraitPreview([astronaut], opts),
      renderPortraitPreview([astronaut], { ...opts, seed: 43 }),
    ]);
    expect(first.map((b) => b.toString('base64'))).toEqual(again.map((b) => b.toString('base64')));
    expect(first.some((b, i) => !b.equals(other[i]!))).toBe(true);
  });

  it('makes a greyscale grade truly grey: three equal channels', async () => {
    const [variant] = await renderPortraitPreview([astronaut], { grade: NOIR, variants: 1, seed: 1, width: 256, height: 320 });
    const { data, info } = await sharp(variant!).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(3);
    let worst = 0;
    for (let i = 0; i < data.length; i += 3) {
      worst = Math.max(worst, Math.abs(data[i]! - data[i + 1]!), Math.abs(data[i]! - data[i + 2]!));
    }
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('takes reference photos in turn and darkens the edges with a vignette', async () => {
    const dark = await sharp({ create: { width: 400, height: 500, channels: 3, background: '#202020' } }).jpeg().toBuffer();
    const light = await sharp({ create: { width: 500, height: 400, channels: 3, background: '#e0e0e0' } }).jpeg().toBuffer();
    const size = { width: 200, height: 250 };
    const plain = await renderPortraitPreview([dark, light], { grade: NEUTRAL, variants: 3, seed: 1, ...size });
    const means = await Promise.all(plain.map(async (b) => (await channelMeans(b))[0]!));
    expect(means[0]).toBeLessThan(40);
    expect(means[1]).toBeGreaterThan(215);
    expect(means[2]).toBeLessThan(40);

    const [vignetted] = await renderPortraitPreview([light], { grade: { ...NEUTRAL, vignette: 1 }, variants: 1, seed: 1, ...size });
    const corner = await channelMeans(await sharp(vignetted!).extract({ left: 0, top: 0, width: 10, height: 10 }).png().toBuffer());
    const centre = await channelMeans(await sharp(vignetted!).extract({ left: 95, top: 120, width: 10, height: 10 }).png().toBuffer());
    expect(corner[0]).toBeLessThan(60);
    expect(centre[0]).toBeGreaterThan(215);
  });
});

describe('face-framed portraits', () => {
  it('frames the face: the headshot has the eyes near the upper third, and the face is centred', async () => {
    const photo = await normalizePhoto(fixture('face-single.jpg'), LIMITS);
    const [headshot, , square] = await renderPortraitPreview([photo.bytes], { grade: LOOKS.studio, variants: 3, seed: 11 });
    for (const [image, height] of [[headshot!, 1280], [square!, 1024]] as const) {
      const [face] = await detectFaces(image);
      expect(face?.eyes).toBeDefined();
      const eyeY = (face!.eyes!.left.y + face!.eyes!.right.y) / 2;
      const centreX = face!.left + face!.width / 2;
      expect(eyeY / height).toBeGreaterThan(height === 1280 ? 0.26 : 0.3);
      expect(eyeY / height).toBeLessThan(height === 1280 ? 0.42 : 0.46);
      expect(Math.abs(centreX / 1024 - 0.5)).toBeLessThan(0.12);
      // The face fills a good part of the frame: a portrait, not a wide shot.
      expect(face!.height / height).toBeGreaterThan(0.25);
    }
  });

  it('frames the largest face of a group', async () => {
    const group = await normalizePhoto(fixture('faces-group.jpg'), LIMITS);
    const faces = await detectFaces(group.bytes);
    expect(faces.length).toBe(3);
    const [headshot] = await renderPortraitPreview([group.bytes], { grade: LOOKS.studio, variants: 1, seed: 1 });
    const [framed] = await detectFaces(headshot!);
    // Scaled into the 1024 px frame, the largest face is the one in the middle of the picture.
    expect(framed!.left + framed!.width / 2).toBeGreaterThan(1024 * 0.35);
    expect(framed!.left + framed!.width / 2).toBeLessThan(1024 * 0.65);
  });

  it('gives every look its own grade', async () => {
    const photo = await normalizePhoto(fixture('face-single.jpg'), LIMITS);
    const names = ['studio', 'classic-bw', 'sepia-heritage', 'warm-film', 'high-key', 'soft-memorial'] as const;
    const renders = await Promise.all(names.map((name) => renderPortraitPreview([photo.bytes], { grade: LOOKS[name], variants: 1, seed: 2, width: 256, height: 320 })));
    const stats = await Promise.all(renders.map(async ([image]) => sharp(image!).stats()));
    const byName = Object.fromEntries(names.map((name, i) => [name, stats[i]!]));
    const mean = (name: (typeof names)[number], channel: number) => byName[name]!.channels[channel]!.mean;
    // Black and white is neutral; sepia is warm monochrome; high-key is the brightest.
    expect(Math.abs(mean('classic-bw', 0) - mean('classic-bw', 2))).toBeLessThan(2);
    expect(mean('sepia-heritage', 0) - mean('sepia-heritage', 2)).toBeGreaterThan(20);
    for (const name of names.filter((n) => n !== 'high-key')) expect(mean('high-key', 1)).toBeGreaterThan(mean(name, 1));
    expect(mean('warm-film', 0) - mean('warm-film', 2)).toBeGreaterThan(mean('studio', 0) - mean('studio', 2));
    // No two looks render the same picture.
    const signatures = stats.map((st) => st.channels.map((c) => Math.round(c.mean)).join(','));
    expect(new Set(signatures).size).toBe(names.length);
  });
});

describe('face detection', () => {
  it('finds the face in real portraits, several in a group, and in a HEIC from a phone', async () => {
    expect(await detectFaces(astronaut)).toHaveLength(1);
    expect(await detectFaces(fixture('face-single.jpg'))).toHaveLength(1);
    const group = await detectFaces(fixture('faces-group.jpg'));
    expect(group).toHaveLength(3);
    expect(group[0]!.width * group[0]!.height).toBeGreaterThanOrEqual(group[1]!.width * group[1]!.height);
    const heic = await normalizePhoto(fixture('astronaut.heic'), LIMITS);
    expect(await detectFaces(heic.bytes)).toHaveLength(1);
  });

  it('finds no face in photos without one', async () => {
    const gradient = await sharp({ create: { width: 400, height: 500, channels: 3, background: '#6a8caf' } }).jpeg().toBuffer();
    for (const image of [fixture('no-face-fruits.jpg'), fixture('no-face-building.jpg'), gradient]) {
      expect(await detectFaces(image)).toEqual([]);
    }
  });

  it("reports boxes in the upright photo's pixels, eyes inside the box", async () => {
    const [face] = await detectFaces(astronaut);
    expect(face!.score).toBeGreaterThan(0.7);
    expect(face!.left).toBeGreaterThan(100);
    expect(face!.left + face!.width).toBeLessThan(350);
    for (const eye of [face!.eyes!.left, face!.eyes!.right]) {
      expect(eye.x).toBeGreaterThan(face!.left);
      expect(eye.x).toBeLessThan(face!.left + face!.width);
      expect(eye.y).toBeGreaterThan(face!.top);
      expect(eye.y).toBeLessThan(face!.top + face!.height / 2);
    }
  });
});

describe('restorePreview', () => {
  it('returns a same-size sRGB JPEG, toned warm when colorizing a greyscale scan', async () => {
    const scan = await sharp(astronaut).toColourspace('b-w').jpeg().toBuffer();
    expect((await sharp(scan).metadata()).channels).toBe(1);
    const plain = await restorePreview(scan, { colorize: false });
    const toned = await restorePreview(scan, { colorize: true });
    for (const out of [plain, toned]) {
      expect(await sharp(out).metadata()).toMatchObject({ format: 'jpeg', width: 512, height: 512, channels: 3, space: 'srgb' });
    }
    const [r, , b] = await channelMeans(toned);
    expect(r! - b!).toBeGreaterThan(10);
  });
});

describe('upscaleToLongEdge', () => {
  it('uses the ESRGAN model when it fits the budget, and lanczos when it would not', async () => {
    const small = await sharp(astronaut).resize(96, 96).jpeg().toBuffer();
    const model = await upscaleToLongEdge(small, 512, { superResolution: { budgetMs: 60_000 } });
    expect(model).toMatchObject({ method: 'esrgan', width: 512, height: 512 });
    const fallback = await upscaleToLongEdge(small, 512, { superResolution: { budgetMs: 0 } });
    expect(fallback).toMatchObject({ method: 'lanczos', width: 512, height: 512 });
    const plain = await upscaleToLongEdge(small, 300, { superResolution: false });
    expect(plain).toMatchObject({ method: 'lanczos', width: 300, height: 300 });
  });

  it('super-resolves 4x in tiles without seams, close to the original', async () => {
    // 200 x 150 crosses tile boundaries (128 px) both ways.
    const original = await sharp(astronaut).resize(800, 600, { fit: 'cover' }).raw().toBuffer({ resolveWithObject: true });
    const small = await sharp(original.data, { raw: original.info }).resize(200, 150, { kernel: 'lanczos3' }).png().toBuffer();
    const enlarged = await superResolve(small, { budgetMs: 60_000 });
    expect(enlarged).toMatchObject({ width: 800, height: 600, channels: 3 });
    let error = 0;
    for (let i = 0; i < enlarged!.data.length; i++) error += Math.abs(enlarged!.data[i]! - original.data[i]!);
    expect(error / enlarged!.data.length).toBeLessThan(12); // mean absolute error per channel, 0..255
  });
});

describe('resizeToLongEdge', () => {
  it('enlarges 512x512 to exactly 7680x7680', async () => {
    expect(await imageInfo(await resizeToLongEdge(astronaut, 7680))).toMatchObject({ width: 7680, height: 7680, format: 'jpeg' });
  });

  it('enlarges a 4:5 portrait to a 7680 px long edge, keeping its shape', async () => {
    const portrait = await sharp({ create: { width: 1024, height: 1280, channels: 3, background: '#a06040' } }).jpeg().toBuffer();
    expect(await imageInfo(await resizeToLongEdge(portrait, 7680))).toMatchObject({ width: 6144, height: 7680 });
  });

  it('can also shrink, and refuses a nonsense target', async () => {
    expect(await imageInfo(await resizeToLongEdge(astronaut, 100))).toMatchObject({ width: 100, height: 100 });
    await expect(resizeToLongEdge(astronaut, 0)).rejects.toThrow(RangeError);
  });
});

describe('provenance', () => {
  it('labels an image as AI-generated with credit and note, keeping its size', async () => {
    const labelled = await withProvenance(astronaut, {
      credit: 'Made with Likeness — AI-generated',
      note: 'AI reconstruction — not an original photograph <& "quoted">',
    });
    expect(await imageInfo(labelled)).toMatchObject({ width: 512, height: 512, format: 'jpeg' });
    const xmp = await readXmp(labelled);
    expect(xmp).toContain(`Iptc4xmpExt:DigitalSourceType="${TRAINED}"`);
    expect(xmp).toContain('photoshop:Credit="Made with Likeness — AI-generated"');
    expect(xmp).toContain('<dc:rights>');
    expect(xmp).toContain('AI reconstruction — not an original photograph &lt;&amp; &quot;quoted&quot;&gt;');
    const meta = await sharp(labelled).metadata();
    expect([meta.exif, meta.icc]).toEqual([undefined, undefined]);
  });

  it('reads no XMP from an unlabelled image', async () => {
    expect(await readXmp(astronaut)).toBeUndefined();
  });

  it('labelOutput writes the XMP into a JPEG without re-encoding its pixels', async () => {
    const labelled = await labelOutput(astronaut, { mark: false });
    const xmp = await readXmp(labelled);
    expect(xmp).toContain(`Iptc4xmpExt:DigitalSourceType="${TRAINED}"`);
    expect(xmp).toContain('photoshop:Credit="Made with Likeness — AI-generated"');
    // The compressed image data is the original's, byte for byte: only a header segment was added.
    const scan = (jpeg: Buffer) => jpeg.subarray(jpeg.indexOf(Buffer.from([0xff, 0xda])));
    expect(scan(labelled).equals(scan(astronaut))).toBe(true);
    expect(labelled.length - astronaut.length).toBe(Buffer.byteLength(xmp!) + 4 + 29);
  });

  it('labelOutput replaces an earlier label, keeping its credit unless told otherwise', async () => {
    const local = await labelOutput(astronaut, { mark: false, credit: 'Likeness local preview — AI-generated' });
    const relabelled = await labelOutput(local, { mark: false, note: 'AI reconstruction — not an original photograph' });
    const xmp = (await readXmp(relabelled))!;
    expect(xmp.match(/DigitalSourceType/g)).toHaveLength(1);
    expect(xmp).toContain('photoshop:Credit="Likeness local preview — AI-generated"');
    expect(xmp).toContain('AI reconstruction — not an original photograph');
    expect(await readXmp(await labelOutput(relabelled, { mark: false, credit: 'Other' }))).toContain('photoshop:Credit="Other"');
  });

  it('labelOutput with mark draws a small visible label in the bottom-left corner, and converts other formats', async () => {
    const png = await sharp(astronaut).png().toBuffer();
    const marked = await labelOutput(png, { mark: true, note: 'AI reconstruction — not an original photograph' });
    expect(await imageInfo(marked)).toMatchObject({ format: 'jpeg', width: 512, height: 512 });
    expect(await readXmp(marked)).toContain(TRAINED);
    const region = (image: Buffer, top: number) => sharp(image).extract({ left: 10, top, width: 200, height: 14 }).raw().toBuffer();
    const [before, after] = await Promise.all([region(astronaut, 488), region(marked, 488)]);
    let changed = 0;
    for (let i = 0; i < before.length; i++) if (Math.abs(before[i]! - after[i]!) > 40) changed++;
    expect(changed / before.length).toBeGreaterThan(0.2);
    // The rest of the picture is untouched (apart from JPEG noise).
    const [top0, top1] = await Promise.all([channelMeans(await sharp(astronaut).extract({ left: 0, top: 0, width: 512, height: 400 }).png().toBuffer()), channelMeans(await sharp(marked).extract({ left: 0, top: 0, width: 512, height: 400 }).png().toBuffer())]);
    expect(Math.abs(top0[0]! - top1[0]!)).toBeLessThan(1);
  });
});

describe('encodeToFit', () => {
  /** A detailed 7680 x 6144 JPEG (~29 MB at q95): a noisy group photo, tiled. */
  async function eightK(): Promise<Buffer> {
    const grain = await sharp({ create: { width: 960, height: 768, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 6 } } }).png().toBuffer();
    const tile = await sharp(fixture('faces-group.jpg')).resize(960, 768, { fit: 'cover' }).composite([{ input: grain, blend: 'soft-light' }]).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const image = await sharp({ create: { width: 7680, height: 6144, channels: 3, background: '#000' } })
      .composite([{ input: tile.data, raw: tile.info, tile: true }])
      .jpeg({ quality: 95 })
      .toBuffer();
    return labelOutput(image, { mark: false });
  }

  it("fits an 8K image under Discord's 10 MiB and Telegram's limits, in few encodes, keeping the provenance", async () => {
    const big = await eightK();
    expect(big.length).toBeGreaterThan(PLATFORM_RULES.discordAttachment.maxBytes);

    const discord = await encodeToFit(big, PLATFORM_RULES.discordAttachment);
    if (discord.tooLarge) throw new Error('expected a fit');
    expect(discord.bytes.length).toBeLessThanOrEqual(10 * 1024 * 1024);
    expect(discord.bytes.length).toBeGreaterThan(0.8 * 10 * 1024 * 1024); // the best quality, not just any
    expect(discord).toMatchObject({ width: 7680, height: 6144 });
    expect(discord.quality).toBeGreaterThanOrEqual(40);
    expect(discord.encodes).toBeLessThanOrEqual(3);
    expect(await readXmp(discord.bytes)).toContain(TRAINED);
    expect(await imageInfo(discord.bytes)).toMatchObject({ width: 7680, height: 6144, format: 'jpeg' });

    const document = await encodeToFit(big, PLATFORM_RULES.telegramDocument);
    // A document may be 50 MB: the 8K file goes as it is (deep-comparing 24 MB buffers is slow, so compare identity).
    expect(document).toMatchObject({ tooLarge: false, quality: 'original' });
    expect(!document.tooLarge && document.bytes === big).toBe(true);

    const photo = await encodeToFit(big, PLATFORM_RULES.telegramPhoto);
    if (photo.tooLarge) throw new Error('expected a fit');
    expect(photo.width + photo.height).toBeLessThanOrEqual(10_000);
    expect(photo.bytes.length).toBeLessThanOrEqual(10_000_000);
    expect(await readXmp(photo.bytes)).toContain(TRAINED);
  }, 60_000);

  it('always fits, within one step of the best quality, in at most two full encodes', async () => {
    const plain = { mozjpeg: false, chromaSubsampling: '4:2:0', optimiseCoding: false } as const;
    // Half flat sky, half fine noise: a sample from one part would be far off for the whole.
    const noise = await sharp({ create: { width: 7680, height: 3072, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 120, sigma: 24 } } }).png({ compressionLevel: 0 }).toBuffer();
    const halfFlat = await sharp({ create: { width: 7680, height: 6144, channels: 3, background: '#8ab4d8' } }).composite([{ input: noise, top: 3072, left: 0 }]).jpeg({ quality: 95 }).toBuffer();
    const big = await eightK();
    for (const [image, maxBytes] of [[big, 10 * 1024 * 1024], [big, 8_000_000], [big, 15_000_000], [halfFlat, 4_500_000], [halfFlat, 10_000_000]] as const) {
      const fit = await encodeToFit(image, { maxBytes });
      if (fit.tooLarge || fit.quality === 'original') throw new Error(`expected an encode under ${maxBytes}`);
      expect(fit.bytes.length).toBeLessThanOrEqual(maxBytes);
      expect(fit.encodes).toBeLessThanOrEqual(2);
      // Two steps up would not fit: the best quality is this one or the next.
      const overhead = fit.bytes.length - (await sharp(image).jpeg({ quality: fit.quality, ...plain }).toBuffer()).length;
      expect(Math.abs(overhead)).toBeLessThan(20_000); // the XMP label, restart markers: the same pixels, the same coding
      const twoUp = await sharp(image).jpeg({ quality: fit.quality + 2, ...plain }).toBuffer();
      expect(twoUp.length + overhead).toBeGreaterThan(maxBytes);
    }
  }, 120_000);

  it('joins strips encoded apart into one JPEG that decodes to the same pixels as one encode', async () => {
    const plain = { quality: 70, mozjpeg: false, chromaSubsampling: '4:2:0', optimiseCoding: false } as const;
    const { data, info } = await sharp(fixture('faces-group.jpg')).resize(1000, 700, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    const layout = stripLayout(info.width, info.height, 3);
    if (!layout) throw new Error('expected a layout');
    expect(layout).toEqual({ rowsPerStrip: 240, strips: 3 }); // 44 MCU rows: 15 + 15 + 14
    const rowBytes = info.width * 3;
    const strips = await Promise.all(
      Array.from({ length: layout.strips }, (_, i) => {
        const top = i * layout.rowsPerStrip;
        const height = Math.min(layout.rowsPerStrip, info.height - top);
        return sharp(data.subarray(top * rowBytes, (top + height) * rowBytes), { raw: { width: info.width, height, channels: 3 } }).jpeg(plain).toBuffer();
      }),
    );
    const joined = joinJpegStrips(strips, info.height, layout.rowsPerStrip);
    const whole = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).jpeg(plain).toBuffer();
    expect(joined.includes(Buffer.from([0xff, 0xdd, 0x00, 0x04]))).toBe(true); // a restart interval
    expect(await imageInfo(joined)).toMatchObject({ width: 1000, height: 700, format: 'jpeg' });
    const [a, b] = await Promise.all([sharp(joined, { failOn: 'error' }).raw().toBuffer(), sharp(whole).raw().toBuffer()]);
    expect(a.equals(b)).toBe(true);
    expect(Math.abs(joined.length - whole.length)).toBeLessThan(200);

    // Strips encoded differently cannot be joined.
    const other = await sharp(data.subarray(layout.rowsPerStrip * rowBytes, 2 * layout.rowsPerStrip * rowBytes), { raw: { width: info.width, height: layout.rowsPerStrip, channels: 3 } }).jpeg({ ...plain, quality: 71 }).toBuffer();
    expect(() => joinJpegStrips([strips[0]!, other, strips[2]!], info.height, layout.rowsPerStrip)).toThrow(RangeError);
    expect(() => joinJpegStrips(strips, info.height + 16, layout.rowsPerStrip)).toThrow(RangeError);
  });

  it('says "send a link instead" when nothing fits', async () => {
    const noise = await sharp({ create: { width: 1200, height: 1200, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
    expect(await encodeToFit(noise, { maxBytes: 20_000 })).toMatchObject({ tooLarge: true, advice: 'send-link' });
  });

  it('finds the best quality for a small image by bisection', async () => {
    const fit = await encodeToFit(await sharp(astronaut).png().toBuffer(), { maxBytes: 40_000 });
    if (fit.tooLarge) throw new Error('expected a fit');
    expect(fit.bytes.length).toBeLessThanOrEqual(40_000);
    const oneBetter = await sharp(astronaut).jpeg({ quality: (fit.quality as number) + 1, mozjpeg: false, optimiseCoding: false }).toBuffer();
    expect(oneBetter.length).toBeGreaterThan(40_000);
  });
});

describe('local backend', () => {
  const backend = createLocalBackend();
  const style = createStyleCatalog().get('renaissance')!;
  const portrait: GpuTask = { kind: 'portrait', photos: [astronaut], style, subject: 'me', variants: 4, seed: 3, identityStrength: 0.7 };

  it('renders portraits on the CPU for free, crediting a local preview (the GPU handler writes the label)', async () => {
    const result = await backend.run(portrait, new AbortController().signal);
    expect(backend.name).toBe('local');
    expect(result).toMatchObject({ model: 'local/preview', costUsd: 0, credit: 'Likeness local preview — AI-generated' });
    expect(result.gpuSeconds).toBeGreaterThan(0);
    expect(Number.isInteger(result.gpuSeconds * 1000)).toBe(true);
    expect(result.images).toHaveLength(4);
    for (const [i, image] of result.images.entries()) {
      expect(await imageInfo(image)).toMatchObject({ width: 1024, height: i === 2 ? 1024 : 1280, format: 'jpeg' });
    }
  });

  it('restores and upscales', async () => {
    const signal = new AbortController().signal;
    const restored = await backend.run({ kind: 'restore', photo: astronaut, colorize: true, fidelity: 0.9 }, signal);
    expect(restored.images).toHaveLength(1);
    expect(await imageInfo(restored.images[0]!)).toMatchObject({ width: 512, height: 512, format: 'jpeg' });
    expect(restored.credit).toBe('Likeness local preview — AI-generated');

    const upscaled = await backend.run({ kind: 'upscale', image: restored.images[0]!, targetLongEdge: 3000 }, signal);
    expect(await imageInfo(upscaled.images[0]!)).toMatchObject({ width: 3000, height: 3000, format: 'jpeg' });
  });

  it('upscales with the super-resolution model when allowed and fast enough', async () => {
    const withModel = createLocalBackend({ superResolution: { budgetMs: 60_000 } });
    const small = await sharp(astronaut).resize(128, 128).jpeg().toBuffer();
    const result = await withModel.run({ kind: 'upscale', image: small, targetLongEdge: 640 }, new AbortController().signal);
    expect(await imageInfo(result.images[0]!)).toMatchObject({ width: 640, height: 640, format: 'jpeg' });
    expect(result.credit).toContain('Likeness local preview');
  });

  it('rejects with the abort reason when aborted before or during a run', async () => {
    const before = new AbortController();
    before.abort();
    await expect(backend.run(portrait, before.signal)).rejects.toMatchObject({ name: 'AbortError' });

    const during = new AbortController();
    const running = backend.run(portrait, during.signal);
    during.abort(new Error('user cancelled'));
    await expect(running).rejects.toThrow('user cancelled');
  });

  it('turns an unreadable input into a non-retryable GPU_REJECTED_INPUT', async () => {
    const task: GpuTask = { kind: 'restore', photo: Buffer.from('not an image'), colorize: false, fidelity: 0.5 };
    const error: unknown = await backend.run(task, new AbortController().signal).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'AppError', code: 'GPU_REJECTED_INPUT', retryable: false });
  });
});
