import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Model files and CommonJS modules inside installed packages: what the model conversions read
 * from node_modules. Nothing here loads a model runtime or sharp.
 */

/** A weight's entry in a tfjs model.json manifest (the fields read here; tfjs's WeightsManifestEntry). */
export interface WeightsManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

/** A tfjs model.json: a graph or layers model's topology and where its weights are. */
export interface TfjsModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: unknown;
  weightsManifest?: Array<{ paths: string[]; weights: WeightsManifestEntry[] }>;
  signature?: unknown;
  userDefinedMetadata?: unknown;
  modelInitializer?: unknown;
}

/** A model.json read with its weight shards: the topology, the weight entries and their bytes, concatenated. */
export interface ModelArtifacts extends Omit<TfjsModelJson, 'weightsManifest'> {
  weightSpecs: WeightsManifestEntry[];
  weightData: ArrayBuffer;
}

const require = createRequire(import.meta.url);

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

/**
 * A tfjs model.json and its weight shards read from disk, as model artifacts; `adjust` may edit the
 * parsed JSON first (e.g. widen an input declaration).
 */
export async function modelArtifactsFromFile<J extends TfjsModelJson>(modelJson: string, adjust?: (json: J) => void): Promise<ModelArtifacts> {
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
