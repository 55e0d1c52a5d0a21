/**
 * Images: decode, validate, normalize, face check, preview-render, upscale, label and encode-to-fit.
 * The only part of Likeness that imports sharp (see ./sharp.ts for the process-wide decoder
 * allow-list and thread settings) and that runs models: the
 * face models and ESRGAN, converted to ONNX (./onnx), on onnxruntime in worker threads (./face-model-pool.ts).
 */
export { inspectPhoto, type PhotoFormat, type PhotoLimits } from './inspect-photo.js';
export { normalizePhoto, NORMALIZED_MAX_EDGE, type EncodedImage } from './normalize-photo.js';
export { closeFaceModels, detectFaces, warmUpFaceModels, type FaceBox, type FacePoint, type FaceSquare } from './face-detector.js';
export { embedFaceAt, embedLargestFace, type FaceEmbedding } from './face-embedding.js';
export { cosineSimilarity, DEFAULT_LIKENESS_MIN, likenessFromSimilarity, likenessScore } from './likeness-score.js';
export { cutRegion, photoVariation, PHOTO_VARIATIONS, type PhotoVariation } from './photo-variations.js';
export { renderPortraitPreview, renderPortraitSet, type PortraitPreviewOptions, type PortraitSet } from './portrait-preview.js';
export { LOOKS, lookFromGrade, type Look, type LookName } from './looks.js';
export { restorePreview } from './restore-preview.js';
export { resizeToLongEdge } from './resize.js';
export { upscaleToLongEdge, type UpscaleMethod, type UpscaleOptions, type Upscaled } from './upscale.js';
export {
  buildProvenanceXmp,
  labelOutput,
  LIKENESS_CREDIT,
  readProvenance,
  readXmp,
  RECONSTRUCTION_NOTE,
  TRAINED_ALGORITHMIC_MEDIA,
  withProvenance,
  type LabelOptions,
} from './provenance.js';
export { readJpegXmp } from './jpeg-segments.js';
export { encodeToFit, fitWidthPlusHeight, PLATFORM_RULES, type EncodeToFitOptions, type FitRule, type FittedImage, type TooLarge } from './encode-to-fit.js';
export { imageInfo } from './image-info.js';
