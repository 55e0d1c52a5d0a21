import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { ConvertedFaceModels } from './face-model-sources.js';
import { describe, detect, loadFaceModels, useConvertedFaceModels } from './face-models.js';
import type { FaceModelReply, FaceModelRequest } from './face-model-pool.js';
import { superResolveTile, useConvertedSuperResolutionModel } from './super-resolution-tile.js';

/**
 * A model worker thread (face models and ESRGAN tiles): runs the requests face-model-pool.ts sends it, one at a time
 * (onnxruntime-node runs a model on the calling thread), and answers each by id.
 */

const port = parentPort;
if (!port) throw new Error('face-models.worker.ts runs as a worker thread');

/**
 * Face work yields the CPU to the event loop (a Discord interaction must be acknowledged within
 * 3 s; the bench holds it to 150 ms at p99) and runs at full speed on an idle core. On Linux the
 * nice value is per thread; elsewhere it would lower the whole process, so it is left alone there.
 */
const FACE_THREAD_NICE = 10;
if (process.platform === 'linux') setPriority(FACE_THREAD_NICE);

// The pool converted the models once; this thread opens its sessions on them.
const models = (workerData as { models?: ConvertedFaceModels } | undefined)?.models;
if (models) {
  useConvertedFaceModels(models);
  useConvertedSuperResolutionModel(models.upscaler);
}

async function run(request: FaceModelRequest): Promise<unknown> {
  switch (request.op) {
    case 'load':
      return loadFaceModels();
    case 'detect':
      return detect(request.pixels);
    case 'describe':
      return describe(request.pixels, request.square);
    case 'superResolve':
      return superResolveTile(request.planes, request.width, request.height);
  }
}

port.on('message', (request: FaceModelRequest) => {
  run(request).then(
    // A tile's bytes move to the owner rather than being copied.
    (value) => port.postMessage({ id: request.id, ok: true, value } satisfies FaceModelReply, value instanceof Uint8Array ? [value.buffer as ArrayBuffer] : []),
    (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      port.postMessage({ id: request.id, ok: false, message } satisfies FaceModelReply);
    },
  );
});
