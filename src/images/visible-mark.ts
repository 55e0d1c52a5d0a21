import type { RawOverlay } from './vignette.js';

/**
 * A small visible label ("AI RECONSTRUCTION", "AI-GENERATED · LIKENESS") drawn as raw pixels with
 * a 5x7 bitmap font: SVG and text rendering are blocked in this process (see sharp.ts), and a mark
 * must look the same on every machine.
 */

const GLYPH_WIDTH = 5;
const GLYPH_HEIGHT = 7;
/** Columns between letters, in font pixels. */
const SPACING = 1;

/** 5x7 glyphs, one string per row, `#` = ink. Letters are upper case; anything unknown is a space. */
const FONT: Record<string, readonly string[]> = {
  A: ['.###.', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  B: ['####.', '#...#', '#...#', '####.', '#...#', '#...#', '####.'],
  C: ['.###.', '#...#', '#....', '#....', '#....', '#...#', '.###.'],
  D: ['####.', '#...#', '#...#', '#...#', '#...#', '#...#', '####.'],
  E: ['#####', '#....', '#....', '####.', '#....', '#....', '#####'],
  F: ['#####', '#....', '#....', '####.', '#....', '#....', '#....'],
  G: ['.###.', '#...#', '#....', '#.###', '#...#', '#...#', '.####'],
  H: ['#...#', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  I: ['.###.', '..#..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  J: ['..###', '...#.', '...#.', '...#.', '...#.', '#..#.', '.##..'],
  K: ['#...#', '#..#.', '#.#..', '##...', '#.#..', '#..#.', '#...#'],
  L: ['#....', '#....', '#....', '#....', '#....', '#....', '#####'],
  M: ['#...#', '##.##', '#.#.#', '#.#.#', '#...#', '#...#', '#...#'],
  N: ['#...#', '#...#', '##..#', '#.#.#', '#..##', '#...#', '#...#'],
  O: ['.###.', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  P: ['####.', '#...#', '#...#', '####.', '#....', '#....', '#....'],
  Q: ['.###.', '#...#', '#...#', '#...#', '#.#.#', '#..#.', '.##.#'],
  R: ['####.', '#...#', '#...#', '####.', '#.#..', '#..#.', '#...#'],
  S: ['.####', '#....', '#....', '.###.', '....#', '....#', '####.'],
  T: ['#####', '..#..', '..#..', '..#..', '..#..', '..#..', '..#..'],
  U: ['#...#', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  V: ['#...#', '#...#', '#...#', '#...#', '#...#', '.#.#.', '..#..'],
  W: ['#...#', '#...#', '#...#', '#.#.#', '#.#.#', '#.#.#', '.#.#.'],
  X: ['#...#', '#...#', '.#.#.', '..#..', '.#.#.', '#...#', '#...#'],
  Y: ['#...#', '#...#', '.#.#.', '..#..', '..#..', '..#..', '..#..'],
  Z: ['#####', '....#', '...#.', '..#..', '.#...', '#....', '#####'],
  '0': ['.###.', '#...#', '#..##', '#.#.#', '##..#', '#...#', '.###.'],
  '1': ['..#..', '.##..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  '2': ['.###.', '#...#', '....#', '...#.', '..#..', '.#...', '#####'],
  '3': ['####.', '....#', '....#', '.###.', '....#', '....#', '####.'],
  '4': ['...#.', '..##.', '.#.#.', '#..#.', '#####', '...#.', '...#.'],
  '5': ['#####', '#....', '####.', '....#', '....#', '#...#', '.###.'],
  '6': ['.###.', '#....', '#....', '####.', '#...#', '#...#', '.###.'],
  '7': ['#####', '....#', '...#.', '..#..', '.#...', '.#...', '.#...'],
  '8': ['.###.', '#...#', '#...#', '.###.', '#...#', '#...#', '.###.'],
  '9': ['.###.', '#...#', '#...#', '.####', '....#', '....#', '.###.'],
  '-': ['.....', '.....', '.....', '.###.', '.....', '.....', '.....'],
  '—': ['.....', '.....', '.....', '#####', '.....', '.....', '.....'],
  '·': ['.....', '.....', '.....', '..#..', '.....', '.....', '.....'],
  '.': ['.....', '.....', '.....', '.....', '.....', '.##..', '.##..'],
  ',': ['.....', '.....', '.....', '.....', '.##..', '..#..', '.#...'],
  "'": ['..#..', '..#..', '.#...', '.....', '.....', '.....', '.....'],
  ' ': ['.....', '.....', '.....', '.....', '.....', '.....', '.....'],
};

/** Text height as a share of the image's short edge, before the width limit. */
const TEXT_HEIGHT_SHARE = 0.014;
/** The label never takes more than this share of the image's width. */
const MAX_WIDTH_SHARE = 0.6;
/** Distance from the bottom-left corner, as a share of the short edge. */
const MARGIN_SHARE = 0.02;

/** A label overlay and where it goes. */
export interface PlacedOverlay extends RawOverlay {
  left: number;
  top: number;
}

/** Upper-cases the text and keeps only characters the font has (others become spaces). */
export function markText(text: string): string {
  return [...text.toUpperCase()].map((c) => (FONT[c] ? c : ' ')).join('').replace(/\s+/g, ' ').trim();
}

/**
 * White text on a translucent dark box in the bottom-left corner of a `width` x `height` image,
 * sized to the image (about 1.4% of its short edge tall, at most 60% of its width), or undefined
 * when the image is too small to hold it legibly.
 */
export function visibleMark(text: string, width: number, height: number): PlacedOverlay | undefined {
  const label = markText(text);
  if (!label) return undefined;
  const chars = [...label];
  const textWidthAt1 = chars.length * (GLYPH_WIDTH + SPACING) - SPACING;
  const short = Math.min(width, height);
  const wanted = Math.max(1, Math.round((short * TEXT_HEIGHT_SHARE) / GLYPH_HEIGHT));
  const scale = Math.min(wanted, Math.floor((width * MAX_WIDTH_SHARE) / textWidthAt1));
  if (scale < 1) return undefined;

  const pad = 2 * scale;
  const boxWidth = textWidthAt1 * scale + 2 * pad;
  const boxHeight = GLYPH_HEIGHT * scale + 2 * pad;
  const margin = Math.round(short * MARGIN_SHARE);
  if (boxWidth + margin > width || boxHeight + margin > height) return undefined;

  const data = Buffer.alloc(boxWidth * boxHeight * 4);
  // The box: black at 55% opacity.
  for (let i = 3; i < data.length; i += 4) data[i] = 140;
  chars.forEach((char, index) => {
    const glyph = FONT[char]!;
    const x0 = pad + index * (GLYPH_WIDTH + SPACING) * scale;
    for (let row = 0; row < GLYPH_HEIGHT; row++) {
      for (let col = 0; col < GLYPH_WIDTH; col++) {
        if (glyph[row]![col] !== '#') continue;
        for (let dy = 0; dy < scale; dy++) {
          const y = pad + row * scale + dy;
          for (let dx = 0; dx < scale; dx++) {
            const at = (y * boxWidth + x0 + col * scale + dx) * 4;
            data[at] = 255;
            data[at + 1] = 255;
            data[at + 2] = 255;
            data[at + 3] = 235;
          }
        }
      }
    }
  });
  return { data, width: boxWidth, height: boxHeight, channels: 4, left: margin, top: height - margin - boxHeight };
}
