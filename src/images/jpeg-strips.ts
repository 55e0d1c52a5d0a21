/**
 * One baseline JPEG from horizontal strips encoded separately (and so in parallel): the strips'
 * entropy-coded data are joined with restart markers, which reset the DC predictors exactly where
 * each strip's own encoder started from zero. Every 8x8 block is coded as it would be in one
 * encode, so the pixels decode identically; the file differs only by a DRI segment, the RST
 * markers and the first DC difference of each strip. Pure functions over Buffers; no decoding.
 */

/** Rows of an MCU (16 for 4:2:0, the only layout joined here). */
export const MCU_SIZE = 16;
/** A restart interval is a 16-bit count of MCUs. */
const MAX_RESTART_INTERVAL = 0xffff;

const SOF0 = 0xc0;
const SOS = 0xda;
const EOI = 0xd9;
const RST0 = 0xd0;
const DRI = 0xdd;

/**
 * How to cut an image of `width` x `height` into strips for {@link joinJpegStrips}: every strip
 * but the last is `rowsPerStrip` pixel rows (whole MCU rows) of exactly one restart interval. At
 * least `minStrips` strips where the image has the rows for them; undefined when it cannot be cut
 * (one MCU row is over 65535 MCUs, or there is only one strip to make).
 */
export function stripLayout(width: number, height: number, minStrips: number): { rowsPerStrip: number; strips: number } | undefined {
  const mcusPerRow = Math.ceil(width / MCU_SIZE);
  const mcuRows = Math.ceil(height / MCU_SIZE);
  const maxRows = Math.floor(MAX_RESTART_INTERVAL / mcusPerRow);
  if (maxRows < 1) return undefined;
  // As few strips as asked for (more where a restart interval cannot hold that many rows), even.
  const wanted = Math.max(Math.max(1, minStrips), Math.ceil(mcuRows / maxRows));
  const rows = Math.ceil(mcuRows / wanted);
  const strips = Math.ceil(mcuRows / rows);
  return strips > 1 ? { rowsPerStrip: rows * MCU_SIZE, strips } : undefined;
}

interface Parsed {
  /** SOI up to (not including) the SOS marker. */
  header: Buffer;
  /** Offset of the SOF0 segment's height field within `header`. */
  heightAt: number;
  /** The SOS segment (marker included). */
  scanHeader: Buffer;
  /** Entropy-coded data, between the SOS segment and EOI. */
  data: Buffer;
}

function parse(jpeg: Buffer): Parsed {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new RangeError('Not a JPEG');
  if (jpeg[jpeg.length - 2] !== 0xff || jpeg[jpeg.length - 1] !== EOI) throw new RangeError('A strip does not end with EOI');
  let offset = 2;
  let heightAt = -1;
  while (offset + 4 <= jpeg.length) {
    if (jpeg[offset] !== 0xff) throw new RangeError('Malformed JPEG header');
    const marker = jpeg[offset + 1]!;
    const length = jpeg.readUInt16BE(offset + 2);
    if (marker === DRI) throw new RangeError('A strip already has restart markers');
    if (marker >= 0xc1 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) throw new RangeError('Only baseline JPEG strips can be joined');
    if (marker === SOF0) {
      // Three components, each 4:2:0 luma (2x2) and 1x1 chroma: the MCU is 16x16.
      const components = jpeg[offset + 9];
      if (components !== 3 || jpeg[offset + 11] !== 0x22 || jpeg[offset + 14] !== 0x11 || jpeg[offset + 17] !== 0x11) throw new RangeError('Only 4:2:0 colour JPEG strips can be joined');
      heightAt = offset + 5;
    }
    if (marker === SOS) {
      if (heightAt < 0) throw new RangeError('No SOF0 before the scan');
      const scanEnd = offset + 2 + length;
      return { header: jpeg.subarray(0, offset), heightAt, scanHeader: jpeg.subarray(offset, scanEnd), data: jpeg.subarray(scanEnd, jpeg.length - 2) };
    }
    offset += 2 + length;
  }
  throw new RangeError('No scan in JPEG strip');
}

/**
 * Joins strips (top to bottom, same width, same encoder settings: baseline, 4:2:0, standard
 * Huffman tables, same quality) into one JPEG of `height` rows. Every strip but the last must be
 * `rowsPerStrip` rows, a multiple of 16, and one restart interval. Throws RangeError when the
 * strips' tables differ or they are not such strips.
 */
export function joinJpegStrips(strips: readonly Buffer[], height: number, rowsPerStrip: number): Buffer {
  const first = strips[0];
  if (!first) throw new RangeError('No strips');
  if (rowsPerStrip % MCU_SIZE !== 0) throw new RangeError('Strips must be whole MCU rows');
  const parsed = strips.map(parse);
  const head = parsed[0]!;
  const width = head.header.readUInt16BE(head.heightAt + 2);
  const restartInterval = Math.ceil(width / MCU_SIZE) * (rowsPerStrip / MCU_SIZE);
  if (restartInterval > MAX_RESTART_INTERVAL) throw new RangeError('Strips too tall for one restart interval');

  parsed.forEach((strip, i) => {
    const rows = strip.header.readUInt16BE(strip.heightAt);
    const last = i === parsed.length - 1;
    if ((!last && rows !== rowsPerStrip) || (last && rows > rowsPerStrip)) throw new RangeError(`Strip ${i} is ${rows} rows, not ${rowsPerStrip}`);
    // Same tables, frame (but for its height) and scan: then the entropy codes mean the same.
    const sameHeader = strip.header.length === head.header.length && strip.header.subarray(0, strip.heightAt).equals(head.header.subarray(0, head.heightAt)) && strip.header.subarray(strip.heightAt + 2).equals(head.header.subarray(head.heightAt + 2));
    if (!sameHeader || !strip.scanHeader.equals(head.scanHeader)) throw new RangeError(`Strip ${i} was not encoded like the first`);
  });
  const rows = parsed.reduce((sum, strip) => sum + strip.header.readUInt16BE(strip.heightAt), 0);
  if (rows !== height) throw new RangeError(`Strips add up to ${rows} rows, not ${height}`);

  const header = Buffer.from(head.header);
  header.writeUInt16BE(height, head.heightAt);
  const dri = Buffer.from([0xff, DRI, 0x00, 0x04, restartInterval >> 8, restartInterval & 0xff]);
  const parts: Buffer[] = [header, dri, head.scanHeader, head.data];
  for (let i = 1; i < parsed.length; i++) {
    parts.push(Buffer.from([0xff, RST0 + ((i - 1) % 8)]), parsed[i]!.data);
  }
  parts.push(Buffer.from([0xff, EOI]));
  return Buffer.concat(parts);
}
