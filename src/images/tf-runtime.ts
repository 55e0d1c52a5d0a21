import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TfWasm from '@tensorflow/tfjs-backend-wasm';
import type * as TfCore from '@tensorflow/tfjs-core';
import { toDecodeError } from './decode-error.js';
import { decodeOptions, sharp } from './sharp.js';

/**
 * TensorFlow.js on its WebAssembly backend, for the models that run in process on the CPU (face
 * detection, super-resolution). Everything it loads comes from node_modules: the .wasm binaries
 * from @tensorflow/tfjs-backend-wasm and model weights from the packages that ship them, read
 * through a `file://` loader registered here. Nothing is fetched from the network at run time.
 */

export type Tf = typeof TfCore;

// tfjs ships CommonJS; require() gets the one module instance every package shares (Human included).
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

/**
 * Resolves a file inside an installed package by its path from the package root, even where the
 * package's `exports` hide it (absolute paths are not subject to exports): the root is found by
 * walking up from the package's entry point to its package.json.
 */
export function packageFile(name: string, relative: string): string {
  let dir = dirname(require.resolve(name));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name) return join(dir, relative);
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`Cannot find the root of package ${name}`);
    dir = parent;
  }
}

/** Loads a CommonJS module by absolute path or package name, for packages that only ship CommonJS. */
export function requireModule<T>(id: string): T {
  return require(id) as T;
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
  return { load: () => modelArtifactsFromFile(modelJson) };
}

/**
 * A tfjs model.json and its weight shards read from disk, as model artifacts; `adjust` may edit the
 * parsed JSON first (e.g. widen an input declaration).
 */
export async function modelArtifactsFromFile<J extends TfCore.io.ModelJSON>(modelJson: string, adjust?: (json: J) => void): Promise<TfCore.io.ModelArtifacts> {
  const model = JSON.parse(await readFile(modelJson, 'utf8')) as J;
  adjust?.(model);
  const groups = model.weightsManifest ?? [];
  const shards = await Promise.all(groups.flatMap((g) => g.paths).map((p) => readFile(join(dirname(modelJson), p))));
  const weights = Buffer.concat(shards);
  return {
    modelTopology: model.modelTopology,
    format: model.format,
    generatedBy: model.generatedBy,
    convertedBy: model.convertedBy,
    signature: model.signature,
    userDefinedMetadata: model.userDefinedMetadata,
    modelInitializer: model.modelInitializer,
    weightSpecs: groups.flatMap((g) => g.weights),
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  };
}

/** An image as the models take it: upright sRGB pixels on white, optionally fitted inside `maxEdge`. Throws AppError for unreadable bytes. */
export async function decodeForModel(image: Buffer, maxEdge?: number) {
  let pipeline = sharp(image, decodeOptions());
  if (maxEdge) pipeline = pipeline.resize(maxEdge, maxEdge, { fit: 'inside', withoutEnlargement: true });
  return pipeline
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch((error: unknown) => {
      throw toDecodeError(error);
    });
}
