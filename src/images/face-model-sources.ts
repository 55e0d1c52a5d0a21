import { convertShippedModel, type ConvertedModel, type ShippedModel } from './onnx/shipped-model.js';

/**
 * Where the two face models come from, and their conversion to ONNX. No onnxruntime here: the
 * pool's owner converts once (face-model-pool.ts) and each face-model thread opens sessions on the
 * bytes (face-models.ts).
 */

const DESCRIPTOR_NODE = 'global_pooling/Mean';

/** The two models as @vladmandic/human ships them. */
export const FACE_MODELS = {
  detector: { packageName: '@vladmandic/human', file: 'models/blazeface.json', outputs: ['Identity', 'Identity_2', 'Identity_1', 'Identity_3'] },
  // Cut at the descriptor: the age and gender heads are not computed.
  describer: { packageName: '@vladmandic/human', file: 'models/faceres.json', outputs: [DESCRIPTOR_NODE] },
} satisfies Record<string, ShippedModel>;

/** Both models, converted to ONNX. */
export interface ConvertedFaceModels {
  detector: ConvertedModel;
  describer: ConvertedModel;
}

/** Converts both models: done once by the pool's owner, so each thread only opens sessions. */
export async function convertFaceModels(): Promise<ConvertedFaceModels> {
  const [detector, describer] = await Promise.all([convertShippedModel(FACE_MODELS.detector), convertShippedModel(FACE_MODELS.describer)]);
  return { detector, describer };
}
