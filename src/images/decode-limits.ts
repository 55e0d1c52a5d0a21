import { availableParallelism } from 'node:os';

/**
 * What one untrusted photo may cost to decode, beyond the configured byte and pixel limits
 * (MAX_PHOTO_BYTES, MAX_PHOTO_PIXELS). Each cap is checked from the header where it can be, so a
 * bomb is refused in milliseconds; the time and memory caps catch what a header cannot show.
 * Numbers behind them are in README.md, "Untrusted images: limits".
 */

/**
 * Most pixels a HEIC may decode, every grid tile and the alpha plane counted. libheif's wasm build
 * decodes ~6 MP/s on one core (a 12 MP phone photo: ~2 s), so 40 MP is ~7 s of a core; 24 MP phone
 * photos pass, 48 MP "HEIF Max" ones are refused (phones send those as JPEG when asked to).
 */
export const HEIC_MAX_PIXELS = 40_000_000;

/**
 * Most coded images (grid tiles) a HEIC may decode: phones use 48 to 192, and each costs a decoder
 * set-up. libheif's default limit (256 items in all) agrees today; this one holds whatever libheif
 * the libvips build carries.
 */
export const HEIC_MAX_CODED_IMAGES = 256;

/**
 * Most pixels of a photo with more than 8 bits a channel (16-bit PNG, 10/12-bit AVIF): libvips
 * decodes them at 6 bytes a pixel with no shrink-on-load, and EXIF rotation holds them whole.
 */
export const HIGH_DEPTH_MAX_PIXELS = 16_000_000;

/** Wall-clock cap on one photo's sharp pipeline (inspect or normalize); an ordinary photo takes well under 1 s. */
export const DECODE_TIMEOUT_SECONDS = 10;

/** Wall-clock cap on one HEIC decoding process, from its start: 40 MP needs ~7 s of a free core. */
export const HEIC_DECODE_TIMEOUT_MS = 20_000;

/**
 * Resident memory a HEIC decoding process may reach before it is killed: a 40 MP decode peaks
 * near 600 MB (wasm heap with the YCbCr planes and RGBA output, plus Node itself).
 */
export const HEIC_PROCESS_MAX_RSS_BYTES = 900 * 1024 * 1024;

/** JavaScript heap of a HEIC decoding process (the wasm heap and the pixels live outside it). */
export const HEIC_PROCESS_HEAP_MB = 96;

/**
 * Full decodes of untrusted photos running at once in this process (sharp pipelines), so that an
 * album of bombs waits its turn instead of taking all memory: ~250 MB each at the worst.
 */
export const MAX_CONCURRENT_PHOTO_DECODES = Math.max(2, Math.min(4, Math.floor(availableParallelism() / 2)));

/** HEIC decoding processes running at once: each may reach HEIC_PROCESS_MAX_RSS_BYTES. */
export const MAX_CONCURRENT_HEIC_PROCESSES = 2;
