import { Readable } from 'node:stream';
import { createDeflate, crc32 } from 'node:zlib';

/**
 * Hostile images made by hand, for the intake's tests and the bench. Each builder says what attack
 * it stands for; none needs an encoder beyond zlib.
 */

/** A PNG chunk: length, type, data, CRC over type and data. */
function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([length, body, crc]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngHeader(width: number, height: number, bitDepth: 8 | 16): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = 2; // truecolour
  return pngChunk('IHDR', ihdr);
}

/** A PNG made by hand: just a signature, an IHDR claiming the given size, an empty IDAT and IEND. */
export function pngHeaderClaiming(width: number, height: number): Buffer {
  return Buffer.concat([PNG_SIGNATURE, pngHeader(width, height, 8), pngChunk('IDAT', Buffer.alloc(0)), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A little-endian TIFF/EXIF block holding only an Orientation tag. */
function exifOrientation(orientation: number): Buffer {
  const exif = Buffer.alloc(26);
  exif.write('II', 0, 'ascii');
  exif.writeUInt16LE(42, 2);
  exif.writeUInt32LE(8, 4); // IFD0 offset
  exif.writeUInt16LE(1, 8); // one entry
  exif.writeUInt16LE(0x0112, 10); // Orientation
  exif.writeUInt16LE(3, 12); // SHORT
  exif.writeUInt32LE(1, 14);
  exif.writeUInt16LE(orientation, 18);
  exif.writeUInt32LE(0, 22); // no next IFD
  return exif;
}

/**
 * A 16-bit RGB PNG of `size` x `size` that a few hundred KB describe: every row is the same
 * gradient, so it deflates ~1000:1, and an EXIF orientation of 6 (rotate 90°) makes libvips
 * hold the whole decoded image (6 bytes a pixel) before it can turn it. Issue 21's example is 7071
 * square (50 MP, just under the pixel limit): 596 KB, 5 s of CPU and 800 MB for an album of four.
 */
export async function png16BitRotated(size: number): Promise<Buffer> {
  // The first row is a gradient; every later row uses PNG's "Up" filter with zero differences,
  // i.e. repeats the row above: runs of zeros deflate about 1000:1, yet each is a full row to decode.
  const first = Buffer.alloc(1 + size * 6);
  for (let x = 0; x < size; x++) first.writeUInt16BE((x * 37) & 0xffff, 1 + x * 6);
  const repeat = Buffer.alloc(first.length);
  repeat[0] = 2; // filter type Up
  // Deflated as a stream, a few rows at a time, so the raw image (300 MB at 7071) is never held.
  const rowsPerChunk = 64;
  const repeats = Buffer.concat(Array.from({ length: rowsPerChunk }, () => repeat));
  async function* rows(): AsyncGenerator<Buffer> {
    yield first;
    for (let y = 1; y < size; y += rowsPerChunk) yield repeats.subarray(0, Math.min(rowsPerChunk, size - y) * repeat.length);
  }
  const deflated: Buffer[] = [];
  for await (const part of Readable.from(rows()).pipe(createDeflate())) deflated.push(part as Buffer);
  return Buffer.concat([
    PNG_SIGNATURE,
    pngHeader(size, size, 16),
    pngChunk('eXIf', exifOrientation(6)),
    pngChunk('IDAT', Buffer.concat(deflated)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** An ISOBMFF box: 32-bit size, four-character type, body. */
function box(type: string, ...body: Buffer[]): Buffer {
  const content = Buffer.concat(body);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + content.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, content]);
}

/** A full box: a box whose body starts with a version byte and 24 bits of flags. */
function fullBox(type: string, version: number, flags: number, ...body: Buffer[]): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff));
  return box(type, head, ...body);
}

const u8 = (value: number) => Buffer.from([value]);
const u16 = (value: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
};
const u32 = (value: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
};

/** The top-level boxes of an ISOBMFF file, or the children inside one box's body. */
function boxesIn(bytes: Buffer, start = 0, end = bytes.length): Array<{ type: string; body: Buffer; whole: Buffer }> {
  const found: Array<{ type: string; body: Buffer; whole: Buffer }> = [];
  for (let at = start; at + 8 <= end; ) {
    const size = bytes.readUInt32BE(at);
    if (size < 8) throw new Error('unsupported box size');
    found.push({ type: bytes.toString('latin1', at + 4, at + 8), body: bytes.subarray(at + 8, at + size), whole: bytes.subarray(at, at + size) });
    at += size;
  }
  return found;
}

/** The HEVC configuration and coded bytes of a HEIC holding exactly one image and nothing else in its mdat. */
export function singleHeicImage(heic: Buffer): { hvcC: Buffer; coded: Buffer; width: number; height: number } {
  const top = boxesIn(heic);
  const meta = top.find((b) => b.type === 'meta');
  const mdat = top.find((b) => b.type === 'mdat');
  if (!meta || !mdat) throw new Error('not a HEIF file');
  const iprp = boxesIn(meta.body, 4).find((b) => b.type === 'iprp');
  const ipco = iprp && boxesIn(iprp.body).find((b) => b.type === 'ipco');
  const properties = ipco ? boxesIn(ipco.body) : [];
  const hvcC = properties.find((b) => b.type === 'hvcC');
  const ispe = properties.find((b) => b.type === 'ispe');
  if (!hvcC || !ispe) throw new Error('no HEVC image');
  return { hvcC: hvcC.whole, coded: mdat.body, width: ispe.body.readUInt32BE(4), height: ispe.body.readUInt32BE(8) };
}

/**
 * A HEIC decompression bomb (issue 21): a grid image of `columns` x `rows` tiles whose every tile
 * points at the same few KB of HEVC, so a file of one tile's size decodes to the whole grid. Issue
 * 21's example is the 320 px astronaut in 15 x 15 tiles: 4800 x 4800 (23 MP, under the 50 MP
 * limit), 30 KB, 3.7 s with the event loop frozen when libheif's wasm ran on the main thread.
 * `tileSize` makes every tile claim another size than its coded image has (its `ispe`); the
 * output size may be any the grid rules allow (the last tiles overhang it by less than a tile).
 */
export function heicGridBomb(heic: Buffer, columns: number, rows: number, options: { outputWidth?: number; outputHeight?: number; tileSize?: number } = {}): Buffer {
  const coded = singleHeicImage(heic);
  const tile = { ...coded, width: options.tileSize ?? coded.width, height: options.tileSize ?? coded.height };
  const tiles = columns * rows;
  const gridId = 1;
  const tileIds = Array.from({ length: tiles }, (_, i) => i + 2);
  const outputWidth = options.outputWidth ?? columns * tile.width;
  const outputHeight = options.outputHeight ?? rows * tile.height;
  const wide = outputWidth > 0xffff || outputHeight > 0xffff;
  const grid = Buffer.concat([u8(0), u8(wide ? 1 : 0), u8(rows - 1), u8(columns - 1), ...(wide ? [u32(outputWidth), u32(outputHeight)] : [u16(outputWidth), u16(outputHeight)])]);
  const ftyp = box('ftyp', Buffer.from('heic', 'latin1'), u32(0), Buffer.from('mif1heic', 'latin1'));

  const meta = (dataStart: number) => {
    const infe = (id: number, type: string, hidden: boolean) => fullBox('infe', 2, hidden ? 1 : 0, u16(id), u16(0), Buffer.from(type, 'latin1'), u8(0));
    // iloc v0: 4-byte offsets and lengths, no base offset; the grid's 8 bytes first, then the one tile.
    const location = (id: number, offset: number, length: number) => Buffer.concat([u16(id), u16(0), u16(1), u32(offset), u32(length)]);
    const iloc = fullBox(
      'iloc',
      0,
      0,
      u8(0x44),
      u8(0x00),
      u16(1 + tiles),
      location(gridId, dataStart, grid.length),
      ...tileIds.map((id) => location(id, dataStart + grid.length, tile.coded.length)),
    );
    const iinf = fullBox('iinf', 0, 0, u16(1 + tiles), infe(gridId, 'grid', false), ...tileIds.map((id) => infe(id, 'hvc1', true)));
    const iref = fullBox('iref', 0, 0, box('dimg', u16(gridId), u16(tiles), ...tileIds.map(u16)));
    const ispe = (width: number, height: number) => fullBox('ispe', 0, 0, u32(width), u32(height));
    const ipco = box('ipco', tile.hvcC, ispe(tile.width, tile.height), ispe(outputWidth, outputHeight));
    // ipma v0: 7-bit property indexes from 1, the top bit marking a property the reader must understand.
    const ipma = fullBox('ipma', 0, 0, u32(1 + tiles), u16(gridId), u8(1), u8(3), ...tileIds.map((id) => Buffer.concat([u16(id), u8(2), u8(0x81), u8(2)])));
    const hdlr = fullBox('hdlr', 0, 0, u32(0), Buffer.from('pict', 'latin1'), Buffer.alloc(12), u8(0));
    return fullBox('meta', 0, 0, hdlr, fullBox('pitm', 0, 0, u16(gridId)), iloc, iinf, iref, box('iprp', ipco, ipma));
  };
  const metaSize = meta(0).length;
  const dataStart = ftyp.length + metaSize + 8;
  return Buffer.concat([ftyp, meta(dataStart), box('mdat', grid, tile.coded)]);
}
