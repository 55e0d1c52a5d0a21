/**
 * What the HEIC decoding process (heic-decode.child.ts) and its parent (heic-process.ts) agree on.
 * stdin: the file. stdout: an 8-byte header (width, height: unsigned 32-bit big-endian), then the
 * image as RGBA rows. First argument: the most pixels the child may decode.
 */

/** Exit code: libheif refused the file (its message is on stderr). */
export const EXIT_UNREADABLE = 65;
/** Exit code: the image is larger than the pixel limit it was given. */
export const EXIT_TOO_LARGE = 66;
/** Exit code: the child itself failed (a bug, not the file). */
export const EXIT_FAILED = 70;
/** Bytes of the header before the pixels. */
export const HEADER_BYTES = 8;

