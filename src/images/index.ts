/**
 * Images: decode, validate, normalize, preview-render, resize and label. The only part of Likeness
 * that imports sharp (see ./sharp.ts for the process-wide decoder allow-list and thread settings).
 */
export { inspectPhoto, type PhotoFormat, type PhotoLimits } from './inspect-photo.js';
export { normalizePhoto } from './normalize-photo.js';
export { renderPortraitPreview } from './portrait-preview.js';
export { restorePreview } from './restore-preview.js';
export { resizeToLongEdge } from './resize.js';
export { readXmp, withProvenance } from './provenance.js';
export { imageInfo } from './image-info.js';
