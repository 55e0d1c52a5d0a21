import { AppError } from '../errors.js';

/**
 * Turns a sharp/libvips failure while reading an untrusted image into the AppError the user is
 * told about. Anything the decoder did not recognise is an unsupported format; a pixel-limit
 * refusal is an image too large; a pipeline past its `timeout` cost too much; every other decode
 * failure means the file is damaged.
 */
export function toDecodeError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/unsupported image format/i.test(message)) {
    return new AppError('UNSUPPORTED_FORMAT', 'Not an image in a supported format', { cause: error });
  }
  if (/exceeds pixel limit/i.test(message)) {
    return new AppError('IMAGE_TOO_LARGE', 'Image has too many pixels', { cause: error });
  }
  if (/^timeout: \d+% complete/i.test(message)) {
    return new AppError('IMAGE_TOO_COSTLY', 'Image took too long to decode', { cause: error, details: { reason: 'timeout' } });
  }
  return new AppError('CORRUPT_IMAGE', `Image could not be decoded: ${message}`, { cause: error });
}
