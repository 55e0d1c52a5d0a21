import type * as TfCore from '@tensorflow/tfjs-core';
import { InferenceSession } from 'onnxruntime-node';
import { modelArtifactsFromFile, packageFile } from '../model-files.js';
import { encodeOnnxModel } from './onnx-proto.js';
import { convertTfjsGraph } from './tfjs-graph-to-onnx.js';
import type { TfjsNode } from './tfjs-graph.js';
import { decodeTfjsWeights } from './tfjs-weights.js';

/**
 * TensorFlow.js graph models that ship in npm packages, run by onnxruntime (native, on the CPU):
 * the model.json and weights are read from node_modules, converted in memory (tfjs-graph-to-onnx.ts)
 * and handed to an InferenceSession. Nothing is written to disk or fetched.
 */

export interface ShippedModel {
  /** The npm package that ships the model, e.g. `@vladmandic/human`. */
  packageName: string;
  /** model.json's path inside it. */
  file: string;
  /** tfjs node names to compute, in the order `run` returns them. */
  outputs: string[];
}

export interface OnnxModel {
  /** Output names, in the order of `ShippedModel.outputs`. */
  outputNames: string[];
  session: InferenceSession;
}

/**
 * One thread per session, no spinning. onnxruntime-node runs a session on the calling (JS) thread;
 * a face model takes a few ms there, and a thread pool would only spin on cores that libvips and
 * other jobs are using (measured: same wall time, ~60 % more CPU).
 */
const SESSION_OPTIONS: InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
};

/** Reads, converts and opens a shipped model (a few tens of ms for a face model). */
export async function loadShippedModel(model: ShippedModel): Promise<OnnxModel> {
  const artifacts = await modelArtifactsFromFile<TfCore.io.ModelJSON>(packageFile(model.packageName, model.file));
  const topology = artifacts.modelTopology as { node: TfjsNode[] };
  const weights = decodeTfjsWeights(artifacts.weightData as ArrayBuffer, artifacts.weightSpecs ?? []);
  const graph = convertTfjsGraph({ nodes: topology.node, weights, outputs: model.outputs, name: `${model.packageName}/${model.file}` });
  const session = await InferenceSession.create(encodeOnnxModel(graph), SESSION_OPTIONS);
  return { session, outputNames: graph.outputs.map((output) => output.name) };
}
