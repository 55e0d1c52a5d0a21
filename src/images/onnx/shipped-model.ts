import { modelArtifactsFromFile, packageFile } from '../model-files.js';
import { convertKerasLayers, type KerasModelConfig } from './keras-layers-to-onnx.js';
import { encodeOnnxModel } from './onnx-proto.js';
import { convertTfjsGraph } from './tfjs-graph-to-onnx.js';
import type { TfjsNode } from './tfjs-graph.js';
import { decodeTfjsWeights } from './tfjs-weights.js';

/**
 * A tfjs graph model that ships in an npm package, converted to ONNX bytes: the part of loading a
 * model that needs node_modules but not onnxruntime (see onnx-runtime.ts for the sessions).
 */

export interface ShippedModel {
  /** The npm package that ships the model, e.g. `@vladmandic/human`. */
  packageName: string;
  /** model.json's path inside it. */
  file: string;
  /** Graph models: the tfjs node names to compute, in the order `run` returns them. Layers models give the model's own outputs. */
  outputs?: string[];
}

/** A shipped model converted to ONNX: what a thread needs to open a session, without node_modules or tfjs. */
export interface ConvertedModel {
  bytes: Uint8Array;
  outputNames: string[];
}

/** Reads and converts a shipped model (a few tens of ms and a few times its weights in passing memory). */
export async function convertShippedModel(model: ShippedModel): Promise<ConvertedModel> {
  const artifacts = await modelArtifactsFromFile(packageFile(model.packageName, model.file));
  const weights = decodeTfjsWeights(artifacts.weightData, artifacts.weightSpecs);
  const name = `${model.packageName}/${model.file}`;
  const graph =
    artifacts.format === 'layers-model'
      ? convertKerasLayers({ model: (artifacts.modelTopology as { model_config: KerasModelConfig }).model_config, weights, name })
      : convertTfjsGraph({ nodes: (artifacts.modelTopology as { node: TfjsNode[] }).node, weights, outputs: model.outputs ?? [], name });
  return { bytes: encodeOnnxModel(graph), outputNames: graph.outputs.map((output) => output.name) };
}
