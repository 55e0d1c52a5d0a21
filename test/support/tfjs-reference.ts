import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TfWasm from '@tensorflow/tfjs-backend-wasm';
import type * as TfCore from '@tensorflow/tfjs-core';
import { modelArtifactsFromFile } from '../../src/images/model-files.js';

/**
 * TensorFlow.js on its WebAssembly backend, as the reference the converted face models are held to
 * (face-models-onnx.test.ts). Likeness itself no longer runs tfjs: its models run on onnxruntime
 * (src/images/onnx). These @tensorflow packages are devDependencies, for that test only.
 */

export type Tf = typeof TfCore;

// tfjs ships CommonJS; require() gets the one module instance every package shares.
const require = createRequire(import.meta.url);

let ready: Promise<Tf> | undefined;

/**
 * The process-wide tfjs, initialised on first use (about 0.1 s) and shared afterwards. A failed
 * start is not cached, so a later call tries again.
 */
export function loadTf(): Promise<Tf> {
  ready ??= start().catch((error: unknown) => {
    ready = undefined;
    throw error;
  });
  return ready;
}

/** The folder that holds tfjs-backend-wasm's .wasm files, with a trailing separator (emscripten joins by concatenation). */
export function wasmDirectory(): string {
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + sep;
}

async function start(): Promise<Tf> {
  const tf = require('@tensorflow/tfjs-core') as Tf;
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof TfWasm;
  // A router answers null for URLs it does not serve (tfjs checks for that; its type says otherwise).
  tf.io.registerLoadRouter(fileUrlRouter as Parameters<Tf['io']['registerLoadRouter']>[0]);
  wasm.setWasmPaths(wasmDirectory());
  if (!(await tf.setBackend('wasm'))) throw new Error('TensorFlow.js could not start its wasm backend');
  await tf.ready();
  tf.enableProdMode();
  return tf;
}

/** Serves `file://…/model.json` (a tfjs graph or layers model and its weight shards) from disk. */
function fileUrlRouter(url: string | string[]): TfCore.io.IOHandler | null {
  if (typeof url !== 'string' || !url.startsWith('file://')) return null;
  const modelJson = fileURLToPath(url);
  return { load: async () => (await modelArtifactsFromFile(modelJson)) as TfCore.io.ModelArtifacts };
}
