import { createRequire } from 'node:module';
import { EXIT_FAILED, EXIT_TOO_LARGE, EXIT_UNREADABLE, HEADER_BYTES } from './heic-protocol.js';

/**
 * Entry point of the short-lived process that decodes one HEIC photo (see heic-process.ts): reads
 * the file from stdin, writes its primary image to stdout as heic-protocol.ts says, and exits.
 * libheif's wasm build runs here, away from the bots process: its event loop stays free, and
 * whatever a hostile file does to libheif or libde265 ends with this process, which saw no other
 * person's photo and holds no token (it is started with an empty environment).
 *
 * It imports nothing of Likeness but the protocol's constants, so it starts quickly.
 */

interface HeicFrame {
  width: number;
  height: number;
  decode(): Promise<{ width: number; height: number; data: Uint8ClampedArray }>;
}
type HeicDecodeAll = (input: { buffer: Uint8Array }) => Promise<HeicFrame[] & { dispose(): void }>;

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function fail(code: number, message: string): never {
  process.stderr.write(`${message}\n`, () => process.exit(code));
  // Exit comes from the write's callback, once the message is out.
  return undefined as never;
}

async function main(): Promise<void> {
  const maxPixels = Number(process.argv[2]);
  const input = await readStdin();
  const { all } = createRequire(import.meta.url)('heic-decode') as { all: HeicDecodeAll };
  let frames: Awaited<ReturnType<HeicDecodeAll>>;
  try {
    frames = await all({ buffer: input });
  } catch (error) {
    return fail(EXIT_UNREADABLE, `HEIC could not be read: ${messageOf(error)}`);
  }
  const primary = frames[0];
  if (!primary || !primary.width || !primary.height) return fail(EXIT_UNREADABLE, 'HEIC holds no image');
  if (primary.width * primary.height > maxPixels) return fail(EXIT_TOO_LARGE, `Image is ${primary.width}x${primary.height}`);
  let decoded: Awaited<ReturnType<HeicFrame['decode']>>;
  try {
    decoded = await primary.decode();
  } catch (error) {
    return fail(EXIT_UNREADABLE, `HEIC could not be decoded: ${messageOf(error)}`);
  }
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(decoded.width, 0);
  header.writeUInt32BE(decoded.height, 4);
  process.stdout.write(header);
  // No copy: the pixels go out straight from the decoder's array.
  const { buffer, byteOffset, byteLength } = decoded.data;
  process.stdout.write(Buffer.from(buffer, byteOffset, byteLength), () => process.exit(0));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

main().catch((error: unknown) => fail(EXIT_FAILED, `HEIC decoder failed: ${messageOf(error)}`));
