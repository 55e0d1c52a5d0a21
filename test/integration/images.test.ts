import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { AppError, type ErrorCode } from '../../src/errors.js';
import type { GpuTask } from '../../src/gpu/backend.js';
import { createLocalBackend } from '../../src/gpu/local.backend.js';
import { createStyleCatalog, type Grade } from '../../src/gpu/styles.js';
import {
  imageInfo,
  inspectPhoto,
  normalizePhoto,
  readXmp,
  renderPortraitPreview,
  resizeToLongEdge,
  restorePreview,
  withProvenance,
  type PhotoLimits,
} from '../../src/images/index.js';

const LIMITS: PhotoLimits = { maxBytes: 20 * 1024 * 1024, maxPixels: 50_000_000 };
const astronaut = readFileSync(new URL('../../samples/astronaut.jpg', import.meta.url));
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

/** A PNG made by hand: just a signature, an IHDR claiming the given size, an empty IDAT and IEND. */
function pngHeaderClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', Buffer.alloc(0)), chunk('IEND', Buffer.alloc(0))]);
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
  it('renders four distinct 1024x1280 variants', async () => {
    const variants = await renderPortraitPreview([astronaut], { grade: STUDIO, variants: 4, seed: 7 });
    expect(variants).toHaveLength(4);
    for (const variant of variants) {
      expect(await imageInfo(variant)).toMatchObject({ width: 1024, height: 1280, format: 'jpeg' });
    }
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
});

describe('local backend', () => {
  const backend = createLocalBackend();
  const style = createStyleCatalog().get('renaissance')!;
  const portrait: GpuTask = { kind: 'portrait', photos: [astronaut], style, subject: 'me', variants: 4, seed: 3, identityStrength: 0.7 };

  it('renders labelled portraits on the CPU for free', async () => {
    const result = await backend.run(portrait, new AbortController().signal);
    expect(backend.name).toBe('local');
    expect(result).toMatchObject({ model: 'local/preview', costUsd: 0 });
    expect(result.gpuSeconds).toBeGreaterThan(0);
    expect(Number.isInteger(result.gpuSeconds * 1000)).toBe(true);
    expect(result.images).toHaveLength(4);
    for (const image of result.images) {
      expect(await imageInfo(image)).toMatchObject({ width: 1024, height: 1280, format: 'jpeg' });
      const xmp = await readXmp(image);
      expect(xmp).toContain(TRAINED);
      expect(xmp).toContain('Likeness local preview — AI-generated');
    }
  });

  it('restores and upscales', async () => {
    const signal = new AbortController().signal;
    const restored = await backend.run({ kind: 'restore', photo: astronaut, colorize: true, fidelity: 0.9 }, signal);
    expect(restored.images).toHaveLength(1);
    expect(await imageInfo(restored.images[0]!)).toMatchObject({ width: 512, height: 512, format: 'jpeg' });
    expect(await readXmp(restored.images[0]!)).toContain(TRAINED);

    const upscaled = await backend.run({ kind: 'upscale', image: restored.images[0]!, targetLongEdge: 3000 }, signal);
    expect(await imageInfo(upscaled.images[0]!)).toMatchObject({ width: 3000, height: 3000, format: 'jpeg' });
    expect(await readXmp(upscaled.images[0]!)).toContain('Likeness local preview');
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
