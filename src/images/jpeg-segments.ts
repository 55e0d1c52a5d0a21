/**
 * Byte-level JPEG surgery: find, drop and insert the APP1 segment that holds an XMP packet,
 * without touching the entropy-coded pixels. Pure functions over Buffers; no decoding.
 */

/** The identifier that starts an XMP APP1 payload (XMP spec part 3, 1.1.3). */
const XMP_NAMESPACE = Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1');
const SOI = 0xd8;
const APP0 = 0xe0;
const APP1 = 0xe1;
/** A segment's length field counts itself (2 bytes) and is 16 bits wide. */
const MAX_SEGMENT_PAYLOAD = 0xffff - 2;

/** Whether the bytes start like a JPEG (SOI followed by a marker). */
export function isJpeg(bytes: Buffer): boolean {
  return bytes.length > 4 && bytes[0] === 0xff && bytes[1] === SOI && bytes[2] === 0xff;
}

interface Segment {
  marker: number;
  /** Offset of the 0xFF that starts the marker. */
  start: number;
  /** Offset just past the segment. */
  end: number;
}

/**
 * The metadata segments between SOI and the first frame or scan marker (APPn, COM, DQT…), or
 * undefined when the header is malformed.
 */
function headerSegments(jpeg: Buffer): Segment[] | undefined {
  const segments: Segment[] = [];
  let offset = 2;
  while (offset + 4 <= jpeg.length) {
    if (jpeg[offset] !== 0xff) return undefined;
    const marker = jpeg[offset + 1]!;
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    // Stop at the first marker that is not an application or comment segment: tables, frame, scan.
    if (!((marker >= APP0 && marker <= 0xef) || marker === 0xfe)) return segments;
    const length = jpeg.readUInt16BE(offset + 2);
    if (length < 2 || offset + 2 + length > jpeg.length) return undefined;
    segments.push({ marker, start: offset, end: offset + 2 + length });
    offset += 2 + length;
  }
  return undefined;
}

function isXmpSegment(jpeg: Buffer, segment: Segment): boolean {
  return segment.marker === APP1 && jpeg.subarray(segment.start + 4, segment.start + 4 + XMP_NAMESPACE.length).equals(XMP_NAMESPACE);
}

/** The XMP packet of a JPEG as text, or undefined when it has none (or is not a well-formed JPEG). */
export function readJpegXmp(jpeg: Buffer): string | undefined {
  if (!isJpeg(jpeg)) return undefined;
  const segment = headerSegments(jpeg)?.find((s) => isXmpSegment(jpeg, s));
  return segment ? jpeg.toString('utf8', segment.start + 4 + XMP_NAMESPACE.length, segment.end) : undefined;
}

/** The number of bytes `withJpegXmp` adds for a packet (marker, length, namespace, packet). */
export function xmpSegmentBytes(xmp: string): number {
  return 4 + XMP_NAMESPACE.length + Buffer.byteLength(xmp, 'utf8');
}

/**
 * Returns the JPEG with `xmp` as its only XMP packet: any XMP APP1 segment already there is
 * dropped and the new one goes right after SOI (after the JFIF APP0, when there is one). The
 * pixels are not re-encoded. Throws RangeError when the bytes are not a well-formed JPEG or the
 * packet does not fit one segment (64 KiB).
 */
export function withJpegXmp(jpeg: Buffer, xmp: string): Buffer {
  if (!isJpeg(jpeg)) throw new RangeError('Not a JPEG');
  const segments = headerSegments(jpeg);
  if (!segments) throw new RangeError('Malformed JPEG header');
  const packet = Buffer.from(xmp, 'utf8');
  const payload = XMP_NAMESPACE.length + packet.length;
  if (payload > MAX_SEGMENT_PAYLOAD) throw new RangeError(`XMP packet too large for one APP1 segment (${payload} bytes)`);

  const app1 = Buffer.alloc(4);
  app1[0] = 0xff;
  app1[1] = APP1;
  app1.writeUInt16BE(payload + 2, 2);
  const xmpSegment = Buffer.concat([app1, XMP_NAMESPACE, packet]);

  const first = segments[0];
  const insertAt = first && first.marker === APP0 ? first.end : 2;
  const parts: Buffer[] = [jpeg.subarray(0, insertAt), xmpSegment];
  let cursor = insertAt;
  for (const segment of segments) {
    if (segment.start < insertAt || !isXmpSegment(jpeg, segment)) continue;
    parts.push(jpeg.subarray(cursor, segment.start));
    cursor = segment.end;
  }
  parts.push(jpeg.subarray(cursor));
  return Buffer.concat(parts);
}
