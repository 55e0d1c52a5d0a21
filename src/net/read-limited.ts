import { AppError } from '../errors.js';

/** Reads a byte stream, giving up with FILE_TOO_LARGE as soon as it passes `maxBytes`. */
export async function readLimited(chunks: AsyncIterable<Uint8Array>, maxBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new AppError('FILE_TOO_LARGE', 'photo exceeds byte limit', { details: { max: maxBytes } });
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts, total);
}
