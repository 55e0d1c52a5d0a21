import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AppError } from '../errors.js';
import { MAX_CONCURRENT_HEIC_PROCESSES } from './decode-limits.js';
import { createSlots } from './decode-slots.js';
import { EXIT_TOO_LARGE, EXIT_UNREADABLE, HEADER_BYTES } from './heic-protocol.js';

/**
 * HEIC is decoded in a fresh child process per photo (heic-decode.child.ts), never in the bots
 * process: libheif's wasm build computes on the thread that calls it (a 23 MP grid froze the event
 * loop for 3 s), and libheif-js 1.23.2 / libde265 1.0.15 predate published security fixes (no
 * patched build is on npm). A worker thread would free the event loop, but shares the process: a
 * crash takes the bots down, and a thread's memory cannot be capped or reclaimed. A process per
 * photo can be killed on a deadline or a memory cap, returns all its memory when it exits, and a
 * corrupted decoder state never meets another person's photo. It is started with an empty
 * environment (no tokens) and speaks only through its stdin, stdout and exit code.
 */

/** Decoded pixels: RGBA, 8 bits per channel, rows top to bottom. */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 4;
}

/** The caps one HEIC decoding process runs under. */
export interface HeicProcessLimits {
  /** Most pixels it may return. */
  maxPixels: number;
  /** Wall clock from its start; past it, it is killed. */
  timeoutMs: number;
  /** Resident memory; above it, it is killed (checked every 50 ms where /proc exists). */
  maxRssBytes: number;
  /** Its JavaScript heap (`--max-old-space-size`). */
  heapMb: number;
}

/** Counters for tests and the bench: processes started and running now, and the most memory one was seen using. */
export const heicProcessStats = { started: 0, running: 0, peakRssBytes: 0 };

const RSS_POLL_MS = 50;
/** Scheduling priority of a decoding process (0 normal, 19 lowest). */
const DECODER_NICENESS = 10;
const STDERR_KEEP_BYTES = 2048;
const processes = createSlots(MAX_CONCURRENT_HEIC_PROCESSES);

/**
 * Decodes a HEIC's primary image in its own process, at most MAX_CONCURRENT_HEIC_PROCESSES at a
 * time (later calls wait for a slot; the deadline starts with the process). Throws AppError
 * CORRUPT_IMAGE (libheif refused it, or the decoder died) or IMAGE_TOO_COSTLY (over the deadline,
 * the memory cap or the pixel cap); other errors (the process could not start) are unexpected.
 */
export function decodeHeicInProcess(bytes: Buffer, limits: HeicProcessLimits): Promise<RawImage> {
  return processes.run(() => decodeOnce(bytes, limits));
}

/**
 * Built, the child is the .js beside this file. In a TypeScript checkout (tests, tsx) it is the .ts
 * file, run through tsx's loader.
 */
function childArguments(): string[] {
  const typescript = fileURLToPath(import.meta.url).endsWith('.ts');
  const entry = fileURLToPath(new URL(`./heic-decode.child.${typescript ? 'ts' : 'js'}`, import.meta.url));
  if (!typescript) return [entry];
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return ['--import', tsx, entry];
}

function decodeOnce(bytes: Buffer, limits: HeicProcessLimits): Promise<RawImage> {
  return new Promise<RawImage>((resolve, reject) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${limits.heapMb}`, ...childArguments(), String(limits.maxPixels)], {
      env: {},
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    heicProcessStats.started++;
    heicProcessStats.running++;
    // Decoding is background work: on a busy host the event loop (chat updates, /healthz) goes first.
    if (child.pid !== undefined) {
      try {
        setPriority(child.pid, DECODER_NICENESS);
      } catch {
        // Not permitted here (some sandboxes): the caps still hold.
      }
    }
    let killedFor: 'timeout' | 'memory' | 'size' | undefined;
    const kill = (reason: NonNullable<typeof killedFor>) => {
      killedFor ??= reason;
      child.kill('SIGKILL');
    };
    const deadline = setTimeout(() => kill('timeout'), limits.timeoutMs);
    const watch = setInterval(() => {
      void residentBytes(child.pid).then((rss) => {
        if (rss === undefined) return;
        heicProcessStats.peakRssBytes = Math.max(heicProcessStats.peakRssBytes, rss);
        if (rss > limits.maxRssBytes) kill('memory');
      });
    }, RSS_POLL_MS);

    const output = pixelReader(limits.maxPixels, () => kill('size'));
    child.stdout.on('data', output.push);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < STDERR_KEEP_BYTES) stderr += chunk.toString('utf8').slice(0, STDERR_KEEP_BYTES - stderr.length);
    });
    // The child may exit before reading everything (a refused file): that write error means nothing.
    child.stdin.on('error', () => {});
    child.stdin.end(bytes);

    let spawnError: Error | undefined;
    child.on('error', (error) => {
      spawnError = error;
    });
    child.on('close', (code, signal) => {
      heicProcessStats.running--;
      clearTimeout(deadline);
      clearInterval(watch);
      const message = stderr.trim();
      if (spawnError) reject(spawnError);
      else if (killedFor === 'timeout') reject(tooCostly(`HEIC decoding ran past ${limits.timeoutMs} ms`, 'timeout'));
      else if (killedFor === 'memory') reject(tooCostly(`HEIC decoding used over ${Math.round(limits.maxRssBytes / 2 ** 20)} MB`, 'memory'));
      else if (killedFor === 'size' || code === EXIT_TOO_LARGE) reject(tooCostly(`HEIC decodes to over ${limits.maxPixels} pixels`, 'pixels'));
      else if (code === 0) {
        const image = output.image();
        if (image) resolve(image);
        else reject(new AppError('CORRUPT_IMAGE', 'HEIC decoder returned incomplete pixels'));
      } else if (code === EXIT_UNREADABLE) reject(new AppError('CORRUPT_IMAGE', message || 'HEIC could not be decoded'));
      else if (/heap out of memory/i.test(message)) reject(tooCostly('HEIC decoding ran out of its heap', 'memory'));
      // Any other death (a wasm trap, an abort) came from decoding this file: it is unreadable.
      else reject(new AppError('CORRUPT_IMAGE', `HEIC decoder died (${signal ?? `exit ${code}`}): ${message.slice(0, 300)}`));
    });
  });
}

/** Collects the child's stdout: the header, then exactly width x height x 4 bytes into one buffer. */
function pixelReader(maxPixels: number, overflow: () => void) {
  let header = Buffer.alloc(0);
  let image: RawImage | undefined;
  let filled = 0;
  let failed = false;
  const push = (chunk: Buffer) => {
    if (failed) return;
    if (!image) {
      header = Buffer.concat([header, chunk]);
      if (header.length < HEADER_BYTES) return;
      const width = header.readUInt32BE(0);
      const height = header.readUInt32BE(4);
      if (width === 0 || height === 0 || width * height > maxPixels) {
        failed = true;
        return overflow();
      }
      image = { data: Buffer.allocUnsafe(width * height * 4), width, height, channels: 4 };
      chunk = header.subarray(HEADER_BYTES);
    }
    if (filled + chunk.length > image.data.length) {
      failed = true;
      return overflow();
    }
    chunk.copy(image.data, filled);
    filled += chunk.length;
  };
  return { push, image: () => (image && !failed && filled === image.data.length ? image : undefined) };
}

/** A process's resident memory from /proc (Linux); undefined where that cannot be read. */
async function residentBytes(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const kb = status?.match(/^VmRSS:\s+(\d+)\s+kB/m)?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

function tooCostly(message: string, reason: string): AppError {
  return new AppError('IMAGE_TOO_COSTLY', message, { details: { reason } });
}
