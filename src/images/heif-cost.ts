import { AppError } from '../errors.js';

/**
 * What decoding a HEIF file would cost, read from its item boxes (ISO/IEC 23008-12) without
 * decoding anything. The header's width and height are not enough: a grid image is decoded tile
 * by tile, and a grid's tiles may each be as large as the canvas, or all point at the same few
 * coded bytes (issue 21's 30 KB bomb decodes 225 tiles). So every coded image the decoder would
 * run is counted: each top-level image's tiles (or the image itself) and its alpha plane.
 *
 * This parser sees untrusted bytes in the main process: every read is bounds-checked, and any
 * inconsistency is CORRUPT_IMAGE (libheif would refuse it too, or we would rather not find out).
 */
export interface HeifDecodeCost {
  /**
   * Pixels decoded for the costliest top-level image: every tile of a grid (or the canvas, where
   * that is larger), plus its alpha plane.
   */
  pixels: number;
  /** Coded images decoded for it: 1 for a plain image, the tile count for a grid. */
  codedImages: number;
}

interface Item {
  type: string;
  width?: number;
  height?: number;
  auxType?: string;
}

/** Derived images: made from other items (`dimg` references), decoded by decoding those. */
const DERIVED = new Set(['grid', 'iovl', 'iden']);
/** How deep derived images may nest (libheif allows one level of grid or overlay, plus `iden`). */
const MAX_DERIVATION_DEPTH = 4;

/** Reads the decode cost of a HEIF/HEIC file's costliest top-level image. Throws AppError CORRUPT_IMAGE. */
export function heifDecodeCost(bytes: Buffer): HeifDecodeCost {
  const meta = childBoxes(bytes, 0, bytes.length).find((b) => b.type === 'meta');
  if (!meta) throw corrupt('no meta box');
  const { items, references } = readMeta(bytes, meta.start + 4, meta.end);

  const hiddenFromTop = new Set<number>();
  const alphaOf = new Map<number, number[]>();
  for (const ref of references) {
    if (ref.type === 'dimg') ref.to.forEach((id) => hiddenFromTop.add(id));
    if (ref.type === 'thmb' || ref.type === 'auxl' || ref.type === 'cdsc') hiddenFromTop.add(ref.from);
    if (ref.type === 'auxl' && isAlpha(items.get(ref.from)?.auxType)) {
      for (const master of ref.to) alphaOf.set(master, [...(alphaOf.get(master) ?? []), ref.from]);
    }
  }
  const inputsOf = (id: number) => references.filter((r) => r.type === 'dimg' && r.from === id).flatMap((r) => r.to);

  const costOf = (id: number, depth: number): HeifDecodeCost => {
    if (depth > MAX_DERIVATION_DEPTH) throw corrupt('derived images nest too deep');
    const item = items.get(id);
    if (!item) throw corrupt(`reference to missing item ${id}`);
    const total: HeifDecodeCost = { pixels: 0, codedImages: 0 };
    if (DERIVED.has(item.type)) {
      const inputs = inputsOf(id);
      if (inputs.length === 0) throw corrupt(`derived image ${id} has no inputs`);
      for (const input of inputs) add(total, costOf(input, depth + 1));
      // A grid or overlay is pasted into a canvas of its own size (`iden` only transforms its
      // input): the work follows whichever is larger, the canvas or its inputs.
      if (item.type !== 'iden') total.pixels = Math.max(total.pixels, pixelsOf(item, id));
    } else {
      total.pixels += pixelsOf(item, id);
      total.codedImages += 1;
    }
    for (const alpha of alphaOf.get(id) ?? []) {
      if (alpha !== id) add(total, costOf(alpha, depth + 1));
    }
    return total;
  };

  let costliest: HeifDecodeCost | undefined;
  for (const [id, item] of items) {
    if (hiddenFromTop.has(id) || !isImage(item.type)) continue;
    const cost = costOf(id, 0);
    if (!costliest || cost.pixels > costliest.pixels) costliest = cost;
  }
  if (!costliest) throw corrupt('no image item');
  return costliest;
}

function add(total: HeifDecodeCost, more: HeifDecodeCost): void {
  total.pixels += more.pixels;
  total.codedImages += more.codedImages;
}

/** Image item types libheif may decode; metadata items (Exif, mime XMP) are not images. */
function isImage(type: string): boolean {
  return DERIVED.has(type) || ['hvc1', 'hev1', 'av01', 'jpeg', 'j2k1', 'vvc1', 'unci', 'avc1'].includes(type);
}

function isAlpha(auxType: string | undefined): boolean {
  return auxType === 'urn:mpeg:mpegB:cicp:systems:auxiliary:alpha' || auxType === 'urn:mpeg:hevc:2015:auxid:1';
}

function pixelsOf(item: Item, id: number): number {
  if (!item.width || !item.height) throw corrupt(`image item ${id} has no size (ispe)`);
  return item.width * item.height;
}

interface Reference {
  type: string;
  from: number;
  to: number[];
}

/** The items of a meta box's body (after its version and flags): types, sizes, aux types, and references. */
function readMeta(bytes: Buffer, start: number, end: number): { items: Map<number, Item>; references: Reference[] } {
  const items = new Map<number, Item>();
  const references: Reference[] = [];
  let properties: Box[] = [];
  const associations: Array<{ id: number; indexes: number[] }> = [];
  for (const child of childBoxes(bytes, start, end)) {
    const { version } = fullBoxHead(bytes, child);
    const reader = new Reader(bytes, child.start + 4, child.end);
    if (child.type === 'iinf') {
      const count = version === 0 ? reader.u16() : reader.u32();
      const entries = childBoxes(bytes, reader.at, child.end).filter((b) => b.type === 'infe');
      if (entries.length !== count) throw corrupt('iinf count does not match its entries');
      for (const infe of entries) {
        const infeVersion = fullBoxHead(bytes, infe).version;
        const r = new Reader(bytes, infe.start + 4, infe.end);
        // Versions 0 and 1 carry no item type: such items are never images.
        if (infeVersion < 2) continue;
        const id = infeVersion === 2 ? r.u16() : r.u32();
        r.u16(); // protection index
        if (items.has(id)) throw corrupt(`item ${id} declared twice`);
        items.set(id, { type: r.fourcc() });
      }
    } else if (child.type === 'iref') {
      for (const ref of childBoxes(bytes, reader.at, child.end)) {
        const r = new Reader(bytes, ref.start, ref.end);
        const from = version === 0 ? r.u16() : r.u32();
        const count = r.u16();
        const to = Array.from({ length: count }, () => (version === 0 ? r.u16() : r.u32()));
        references.push({ type: ref.type, from, to });
      }
    } else if (child.type === 'iprp') {
      for (const part of childBoxes(bytes, child.start, child.end)) {
        if (part.type === 'ipco') properties = childBoxes(bytes, part.start, part.end);
        if (part.type === 'ipma') associations.push(...readAssociations(bytes, part));
      }
    }
  }
  for (const { id, indexes } of associations) {
    const item = items.get(id);
    if (!item) continue;
    for (const index of indexes) {
      // Index 0 means "no property"; indexes count from 1.
      const property = index === 0 ? undefined : properties[index - 1];
      if (index !== 0 && !property) throw corrupt(`property ${index} does not exist`);
      if (property?.type === 'ispe') {
        const r = new Reader(bytes, property.start + 4, property.end);
        item.width = r.u32();
        item.height = r.u32();
      } else if (property?.type === 'auxC') {
        const text = bytes.subarray(property.start + 4, property.end);
        const nul = text.indexOf(0);
        item.auxType = text.toString('latin1', 0, nul < 0 ? text.length : nul);
      }
    }
  }
  return { items, references };
}

function readAssociations(bytes: Buffer, ipma: Box): Array<{ id: number; indexes: number[] }> {
  const { version, flags } = fullBoxHead(bytes, ipma);
  const r = new Reader(bytes, ipma.start + 4, ipma.end);
  const count = r.u32();
  const found: Array<{ id: number; indexes: number[] }> = [];
  for (let i = 0; i < count; i++) {
    const id = version < 1 ? r.u16() : r.u32();
    const n = r.u8();
    // The top bit marks an essential property; the rest is the index (7 or 15 bits).
    const indexes = Array.from({ length: n }, () => (flags & 1 ? r.u16() & 0x7fff : r.u8() & 0x7f));
    found.push({ id, indexes });
  }
  return found;
}

/** A box's type and the byte range of its body. */
interface Box {
  type: string;
  start: number;
  end: number;
}

/** The boxes laid end to end between `start` and `end`. */
function childBoxes(bytes: Buffer, start: number, end: number): Box[] {
  const boxes: Box[] = [];
  let at = start;
  while (at < end) {
    if (end - at < 8) throw corrupt('truncated box header');
    let size = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    let header = 8;
    if (size === 1) {
      if (end - at < 16) throw corrupt('truncated box header');
      const large = bytes.readBigUInt64BE(at + 8);
      if (large > BigInt(end - at)) throw corrupt(`box ${type} runs past its parent`);
      size = Number(large);
      header = 16;
    } else if (size === 0) {
      size = end - at;
    }
    if (size < header || size > end - at) throw corrupt(`box ${type} runs past its parent`);
    boxes.push({ type, start: at + header, end: at + size });
    at += size;
  }
  return boxes;
}

function fullBoxHead(bytes: Buffer, box: Box): { version: number; flags: number } {
  if (box.end - box.start < 4) return { version: 0, flags: 0 };
  const word = bytes.readUInt32BE(box.start);
  return { version: word >>> 24, flags: word & 0xffffff };
}

/** Big-endian reads that refuse to step outside their box. */
class Reader {
  constructor(
    private readonly bytes: Buffer,
    public at: number,
    private readonly end: number,
  ) {}
  private take(n: number): number {
    if (this.at + n > this.end) throw corrupt('box ends too soon');
    const at = this.at;
    this.at += n;
    return at;
  }
  u8 = () => this.bytes.readUInt8(this.take(1));
  u16 = () => this.bytes.readUInt16BE(this.take(2));
  u32 = () => this.bytes.readUInt32BE(this.take(4));
  fourcc = () => this.bytes.toString('latin1', this.take(4), this.at);
}

function corrupt(reason: string): AppError {
  return new AppError('CORRUPT_IMAGE', `HEIF structure is not readable: ${reason}`, { details: { reason } });
}
