import { describe, expect, it } from 'vitest';
import { severalFacesNote } from '../../src/bots/core/messages.js';
import { fitWidthPlusHeight, PLATFORM_RULES } from '../../src/images/encode-to-fit.js';
import { gradeOps } from '../../src/images/grade.js';
import { readJpegXmp, withJpegXmp, xmpSegmentBytes } from '../../src/images/jpeg-segments.js';
import { anchorFromFace, SHOTS, shotFrame, squareInShot } from '../../src/images/portrait-frame.js';
import { tileGrid } from '../../src/images/super-resolution.js';
import { markText, visibleMark } from '../../src/images/visible-mark.js';

/** A JPEG's header as bytes: SOI, an APP0 (JFIF), optional extra segments, then a stand-in for tables and scan. */
function fakeJpeg(...segments: Buffer[]): Buffer {
  const segment = (marker: number, payload: Buffer) => {
    const head = Buffer.from([0xff, marker, 0, 0]);
    head.writeUInt16BE(payload.length + 2, 2);
    return Buffer.concat([head, payload]);
  };
  const app0 = segment(0xe0, Buffer.from('JFIF\0\x01\x01\0\0\x01\0\x01\0\0', 'latin1'));
  const tablesAndScan = Buffer.concat([segment(0xdb, Buffer.alloc(65, 1)), segment(0xda, Buffer.alloc(12, 2)), Buffer.from([0x12, 0x34, 0xff, 0xd9])]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, ...segments.map((s) => segment(s[0]!, s.subarray(1))), tablesAndScan]);
}

describe('XMP segments in JPEG bytes', () => {
  const xmpPayload = (text: string) => Buffer.concat([Buffer.from([0xe1]), Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1'), Buffer.from(text)]);

  it('inserts one packet after the JFIF segment and leaves every other byte alone', () => {
    const jpeg = fakeJpeg();
    const out = withJpegXmp(jpeg, '<x:xmpmeta>one</x:xmpmeta>');
    expect(readJpegXmp(out)).toBe('<x:xmpmeta>one</x:xmpmeta>');
    expect(out.length).toBe(jpeg.length + xmpSegmentBytes('<x:xmpmeta>one</x:xmpmeta>'));
    expect(out.subarray(0, 20).equals(jpeg.subarray(0, 20))).toBe(true); // SOI + APP0 first
    expect(out.subarray(out.length - 89).equals(jpeg.subarray(jpeg.length - 89))).toBe(true); // tables, scan, EOI
  });

  it('replaces an earlier packet instead of adding a second, and keeps EXIF-like segments', () => {
    const exif = Buffer.concat([Buffer.from([0xe1]), Buffer.from('Exif\0\0something')]);
    const jpeg = fakeJpeg(exif, xmpPayload('<old/>'));
    const out = withJpegXmp(jpeg, '<new/>');
    expect(readJpegXmp(out)).toBe('<new/>');
    expect(out.includes(Buffer.from('<old/>'))).toBe(false);
    expect(out.includes(Buffer.from('Exif\0\0something'))).toBe(true);
  });

  it('refuses what is not a JPEG, or a packet too big for one segment', () => {
    expect(() => withJpegXmp(Buffer.from('not a jpeg at all'), '<x/>')).toThrow(RangeError);
    expect(() => withJpegXmp(fakeJpeg(), 'x'.repeat(70_000))).toThrow(RangeError);
    expect(readJpegXmp(Buffer.from('nope'))).toBeUndefined();
  });
});

describe('platform rules', () => {
  it('scales an 8K portrait down to Telegram photo size, and leaves small ones alone', () => {
    const fitted = fitWidthPlusHeight(6144, 7680, PLATFORM_RULES.telegramPhoto.maxWidthPlusHeight);
    expect(fitted.width + fitted.height).toBeLessThanOrEqual(10_000);
    expect(fitted.width / fitted.height).toBeCloseTo(0.8, 2);
    expect(fitWidthPlusHeight(1024, 1280, 10_000)).toEqual({ width: 1024, height: 1280 });
    expect(fitWidthPlusHeight(7680, 7680, undefined)).toEqual({ width: 7680, height: 7680 });
  });

  it('knows the limits: Discord 10 MiB, Telegram photos 10 MB, documents 50 MB', () => {
    expect(PLATFORM_RULES).toEqual({
      discordAttachment: { maxBytes: 10_485_760 },
      telegramPhoto: { maxBytes: 10_000_000, maxWidthPlusHeight: 10_000 },
      telegramDocument: { maxBytes: 50_000_000 },
    });
  });
});

describe('portrait framing', () => {
  const image = { width: 2000, height: 3000 };
  const face = { x: 1000, eyeY: 1000, faceHeight: 400 };

  it('puts the eyes on the upper third of a 4:5 headshot, the face filling its share of the height', () => {
    const frame = shotFrame(image, face, SHOTS[0]!, 0, 1);
    expect(frame.width / frame.height).toBeCloseTo(0.8, 2);
    expect((face.eyeY - frame.top) / frame.height).toBeGreaterThan(0.28);
    expect((face.eyeY - frame.top) / frame.height).toBeLessThan(0.39);
    expect(face.faceHeight / frame.height).toBeGreaterThan(0.42);
    expect(Math.abs(frame.left + frame.width / 2 - face.x) / frame.width).toBeLessThan(0.06);
  });

  it('has a square shot and an off-centre one, and every frame stays inside the image', () => {
    const square = shotFrame(image, face, SHOTS[2]!, 2, 1);
    expect(square.width).toBe(square.height);
    const off = shotFrame(image, face, SHOTS[3]!, 3, 1);
    expect(Math.abs(off.left + off.width / 2 - face.x) / off.width).toBeGreaterThan(0.08);
    for (const [i, shot] of SHOTS.entries()) {
      for (const f of [face, { x: 30, eyeY: 20, faceHeight: 1500 }, { x: 1990, eyeY: 2990, faceHeight: 50 }]) {
        const r = shotFrame(image, f, shot, i, 7);
        expect(r.left).toBeGreaterThanOrEqual(0);
        expect(r.top).toBeGreaterThanOrEqual(0);
        expect(r.left + r.width).toBeLessThanOrEqual(image.width);
        expect(r.top + r.height).toBeLessThanOrEqual(image.height);
      }
    }
  });

  it('follows a face square from the photo into the variant: cut out, scaled, and centred where the aspect differs', () => {
    // A 400 px frame at (100, 200) scaled to 800 px: everything doubles, from the frame's corner.
    expect(squareInShot({ left: 150, top: 250, side: 100 }, { left: 100, top: 200, width: 400, height: 500 }, { width: 800, height: 1000 })).toEqual({ left: 100, top: 100, side: 200 });
    // A square frame covering a 4:5 output: scaled to the height (x2.5), then 100 px cut off each side.
    expect(squareInShot({ left: 40, top: 0, side: 100 }, { left: 0, top: 0, width: 400, height: 400 }, { width: 800, height: 1000 })).toEqual({ left: 0, top: 0, side: 250 });
  });

  it('is the same for the same seed, and moves with another', () => {
    expect(shotFrame(image, face, SHOTS[0]!, 0, 5)).toEqual(shotFrame(image, face, SHOTS[0]!, 0, 5));
    expect(shotFrame(image, face, SHOTS[0]!, 0, 5)).not.toEqual(shotFrame(image, face, SHOTS[0]!, 0, 6));
  });

  it('anchors on the eyes when known, else 40% down the face box', () => {
    const eyes = { left: { x: 90, y: 130 }, right: { x: 150, y: 134 } };
    expect(anchorFromFace({ left: 60, top: 100, width: 120, height: 120, eyes })).toEqual({ x: 120, eyeY: 132, faceHeight: 120 });
    expect(anchorFromFace({ left: 60, top: 100, width: 120, height: 120 })).toEqual({ x: 120, eyeY: 148, faceHeight: 120 });
  });
});

describe('super-resolution tiles', () => {
  it('partition the image, each read with its overlap inside the image', () => {
    const tiles = tileGrid(300, 200, 128, 6);
    expect(tiles).toHaveLength(3 * 2);
    let covered = 0;
    for (const { read, keep } of tiles) {
      covered += keep.width * keep.height;
      expect(read.left).toBeLessThanOrEqual(keep.left);
      expect(read.left + read.width).toBeGreaterThanOrEqual(keep.left + keep.width);
      expect(read.left).toBeGreaterThanOrEqual(0);
      expect(read.top + read.height).toBeLessThanOrEqual(200);
    }
    expect(covered).toBe(300 * 200);
    expect(tiles[4]!.read).toEqual({ left: 122, top: 122, width: 140, height: 78 });
  });
});

describe('grades and marks', () => {
  it('folds a fade into the linear step: blacks lift, whites stay', () => {
    const ops = gradeOps({ saturation: 1, brightness: 1, contrast: 1, tint: [1, 1, 1], greyscale: false, blur: 0, vignette: 0 }, 0.1);
    expect(ops.linear!.a * 0 + ops.linear!.b).toBeCloseTo(25.5);
    expect(ops.linear!.a * 255 + ops.linear!.b).toBeCloseTo(255);
  });

  it('draws a label sized to the image, in the bottom-left corner, or none when it cannot fit', () => {
    expect(markText('AI reconstruction — not an original photograph!')).toBe('AI RECONSTRUCTION — NOT AN ORIGINAL PHOTOGRAPH');
    const small = visibleMark('AI-generated · Likeness', 1024, 1280)!;
    const large = visibleMark('AI-generated · Likeness', 6144, 7680)!;
    expect(large.height).toBeGreaterThan(small.height * 4);
    for (const [mark, w, h] of [[small, 1024, 1280], [large, 6144, 7680]] as const) {
      expect(mark.left + mark.width).toBeLessThanOrEqual(w * 0.7);
      expect(mark.top + mark.height).toBeLessThan(h);
      expect(mark.top).toBeGreaterThan(h * 0.9);
    }
    expect(visibleMark('AI', 8, 8)).toBeUndefined();
  });

  it('says which photos show several faces', () => {
    expect(severalFacesNote([{ photo: 1, faces: 1 }])).toBeUndefined();
    expect(severalFacesNote([{ photo: 1, faces: 2 }])).toMatch(/^That photo shows 2 faces\. I'm using the largest face/);
    expect(severalFacesNote([{ photo: 1, faces: 1 }, { photo: 3, faces: 4 }])).toMatch(/^Photo 3 shows 4 faces\./);
  });
});
