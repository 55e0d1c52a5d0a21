import { InferenceSession } from 'onnxruntime-node';
import { convertShippedModel, type ConvertedModel, type ShippedModel } from './shipped-model.js';

/**
 * TensorFlow.js graph models that ship in npm packages, run by onnxruntime (native, on the CPU):
 * the model.json and weights are read from node_modules, converted in memory (tfjs-graph-to-onnx.ts)
 * and handed to an InferenceSession. Nothing is written to disk or fetched.
 */

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

/** Opens a session on a converted model. */
export async function openModel(model: ConvertedModel): Promise<OnnxModel> {
  return { session: await InferenceSession.create(model.bytes, SESSION_OPTIONS), outputNames: model.outputNames };
}

/** Reads, converts and opens a shipped model. */
export async function loadShippedModel(model: ShippedModel): Promise<OnnxModel> {
  return openModel(await convertShippedModel(model));
}
