import { convertShippedModel, type ConvertedModel, type ShippedModel } from './onnx/shipped-model.js';

/**
 * Where the models of the pool's threads come from (the two face models and ESRGAN), and their conversion to ONNX. No onnxruntime here: the
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

/**
 * The super-resolution model the pool's threads also run: UpscalerJS's ESRGAN "slim" 4x (an RDN,
 * ~0.9 MB of weights, MIT), a Keras layers model as its npm package ships it.
 */
export const SUPER_RESOLUTION_MODEL: ShippedModel = { packageName: '@upscalerjs/esrgan-slim', file: 'models/x4/model.json' };

/** The models a pool thread runs, converted to ONNX. */
export interface ConvertedFaceModels {
  detector: ConvertedModel;
  describer: ConvertedModel;
  /** ESRGAN (about 1 MB): converted with the face models, its session opened on a thread's first tile. */
  upscaler: ConvertedModel;
}

/** Converts every model: done once by the pool's owner, so each thread only opens sessions. */
export async function convertFaceModels(): Promise<ConvertedFaceModels> {
  const [detector, describer, upscaler] = await Promise.all([
    convertShippedModel(FACE_MODELS.detector),
    convertShippedModel(FACE_MODELS.describer),
    convertShippedModel(SUPER_RESOLUTION_MODEL),
  ]);
  return { detector, describer, upscaler };
}
