import { parentPort } from 'node:worker_threads';
import { describe, detect, loadFaceModels } from './face-models.js';
import type { FaceModelReply, FaceModelRequest } from './face-model-pool.js';

/**
 * A face-model worker thread: runs the requests face-model-pool.ts sends it, one at a time
 * (onnxruntime-node runs a model on the calling thread), and answers each by id.
 */

const port = parentPort;
if (!port) throw new Error('face-models.worker.ts runs as a worker thread');

async function run(request: FaceModelRequest): Promise<unknown> {
  switch (request.op) {
    case 'load':
      return loadFaceModels();
    case 'detect':
      return detect(request.pixels);
    case 'describe':
      return describe(request.pixels, request.square);
  }
}

port.on('message', (request: FaceModelRequest) => {
  run(request).then(
    (value) => port.postMessage({ id: request.id, ok: true, value } satisfies FaceModelReply),
    (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      port.postMessage({ id: request.id, ok: false, message } satisfies FaceModelReply);
    },
  );
});
