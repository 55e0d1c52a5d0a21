import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BlazeFaceDetection } from './blazeface.js';
import { convertFaceModels, type ConvertedFaceModels } from './face-model-sources.js';
import type { Pixels } from './pixel-sampling.js';

/**
 * The face models (and ESRGAN's upscale tiles, super-resolution.ts) run in a small pool of worker threads, so that the faces of a portrait set are
 * measured side by side on a multi-core host and the event loop (chat updates, queue heartbeats)
 * never waits on a model: onnxruntime-node computes on the thread that calls it.
 * Threads start on first use and do not keep the process alive when idle.
 */

/** What a face-model thread is asked to do. */
export type FaceModelCall =
  | { op: 'load' }
  | { op: 'detect'; pixels: Pixels }
  | { op: 'describe'; pixels: Pixels; square: readonly [number, number, number, number] }
  | { op: 'superResolve'; planes: Float32Array; width: number; height: number };
export type FaceModelRequest = FaceModelCall & { id: number };
export type FaceModelReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string };

/** Most threads the pool starts: each holds its own copy of the face models (~40 MB), and of ESRGAN once it upscaled (~100 MB while it runs a tile). */
const MAX_THREADS = 4;

interface Thread {
  worker: Worker;
  pending: Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>;
  /** Told when the last pending request is answered. */
  whenIdle: Array<() => void>;
}

const threads: Thread[] = [];
let nextId = 1;

/**
 * Built, the worker is the .js beside this file. In a TypeScript checkout (tests, tsx) it is the
 * .ts file, loaded through tsx's API: Node 20 does not pass a loader's hooks on to worker threads.
 */
function spawn(models: ConvertedFaceModels): Thread {
  const typescript = fileURLToPath(import.meta.url).endsWith('.ts');
  const entry = new URL(`./face-models.worker.${typescript ? 'ts' : 'js'}`, import.meta.url);
  const workerData = { models };
  const worker = typescript
    ? new Worker(`import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(import.meta.url)}))`, { eval: true, workerData })
    : new Worker(entry, { workerData });
  const thread: Thread = { worker, pending: new Map(), whenIdle: [] };
  const settleIdle = () => {
    if (thread.pending.size > 0) return;
    worker.unref();
    for (const notify of thread.whenIdle.splice(0)) notify();
  };
  worker.unref();
  worker.on('message', (reply: FaceModelReply) => {
    const waiting = thread.pending.get(reply.id);
    if (!waiting) return;
    thread.pending.delete(reply.id);
    if (reply.ok) waiting.resolve(reply.value);
    else waiting.reject(new Error(reply.message));
    settleIdle();
  });
  // A thread that dies takes its requests with it; the next request starts a new one.
  const fail = (error: Error) => {
    const index = threads.indexOf(thread);
    if (index >= 0) threads.splice(index, 1);
    for (const waiting of thread.pending.values()) waiting.reject(error);
    thread.pending.clear();
    settleIdle();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`face model thread exited with code ${code}`)));
  return thread;
}

let converted: Promise<ConvertedFaceModels> | undefined;

/**
 * The models converted to ONNX, once per process (here, not in each thread: each thread then
 * holds only its sessions, not the conversion's passing copies of the weights). A failure is not kept.
 */
function convertedModels(): Promise<ConvertedFaceModels> {
  converted ??= convertFaceModels().catch((error: unknown) => {
    converted = undefined;
    throw error;
  });
  return converted;
}

/** The least busy thread, starting another while every one is busy and the pool is not full. */
function pick(models: ConvertedFaceModels): Thread {
  const idle = threads.find((thread) => thread.pending.size === 0);
  if (idle) return idle;
  if (threads.length < poolSize()) {
    const thread = spawn(models);
    threads.push(thread);
    return thread;
  }
  return threads.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
}

function poolSize(): number {
  return Math.max(1, Math.min(MAX_THREADS, availableParallelism()));
}

async function call<T>(request: FaceModelCall, chosen?: Thread, transfer: ArrayBuffer[] = []): Promise<T> {
  // No await between choosing the thread and queueing on it: concurrent calls see each other's choice.
  const models = await convertedModels();
  const thread = chosen ?? pick(models);
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    thread.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    // Held while it works, so a short-lived process (the CLI) waits for its answer.
    thread.worker.ref();
    thread.worker.postMessage({ ...request, id }, transfer);
  });
}

export const faceModels = {
  detect: (pixels: Pixels) => call<BlazeFaceDetection[]>({ op: 'detect', pixels }),
  describe: (pixels: Pixels, square: readonly [number, number, number, number]) => call<Float32Array>({ op: 'describe', pixels, square }),
  /** ESRGAN on one tile (NCHW planes, 0..255; moved to the thread): the 4x tile as interleaved RGB bytes. */
  superResolveTile: (planes: Float32Array, width: number, height: number) =>
    call<Uint8Array>({ op: 'superResolve', planes, width, height }, undefined, [planes.buffer as ArrayBuffer]),
  /** How many threads the pool runs at most: callers with many requests keep this many in flight. */
  size: poolSize,
  /** Starts every thread of the pool and loads the models in each (start-up, so the first photo is quick). */
  async warmUp(): Promise<void> {
    const models = await convertedModels();
    while (threads.length < poolSize()) threads.push(spawn(models));
    await Promise.all(threads.map((thread) => call({ op: 'load' }, thread)));
  },
  /**
   * Stops the threads once their requests are answered (at shutdown, and in tests); a request made
   * meanwhile starts a new thread. A thread is never stopped in the middle of a model run: that
   * aborts the whole process (onnxruntime-node's teardown throws from native code).
   */
  async close(): Promise<void> {
    const closing = threads.splice(0);
    await Promise.all(
      closing.map(async (thread) => {
        if (thread.pending.size > 0) await new Promise<void>((resolve) => thread.whenIdle.push(resolve));
        await thread.worker.terminate();
      }),
    );
  },
};
