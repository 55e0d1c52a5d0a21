/**
 * The likeness score: how much a face looks like the person in the reference photos, 0–100.
 * Pure arithmetic over face embeddings (face-embedding.ts); no I/O.
 *
 * Calibration (test/integration/likeness-calibration.test.ts prints these figures): FaceRes
 * descriptors of 160 px grey face crops, compared by cosine similarity, on the photos that ship
 * with the project and its npm packages (samples/astronaut.jpg, test/fixtures/face-single.jpg and
 * faces-group.jpg, and the portraits in @vladmandic/human's assets/ screenshots, seven of which
 * show one man in different photos):
 *
 *   one photo re-cropped, halved, enlarged, brightened, darkened,   score 99–100
 *     JPEG q20, greyscale, sepia (24 pairs)
 *   one man in different photos (21 pairs)                          0.58 / 0.75 / 0.84  (min / median / max)
 *   different people (45 pairs)                                     0.27 / 0.44 / 0.66
 *
 * The two photo-to-photo distributions meet around 0.58-0.60, so 0.58 is the midpoint (score 50)
 * of a logistic with spread 0.06: different people have a median score of 8, one person in another
 * photo a median of 94. With the bar at 50, 0 of the 21 pairs of one man fall under it and 3 of
 * the 45 pairs of different people reach it; at 60, 5 of 21 fall under and 1 of 45 reaches it. That
 * one is the hardest pair (two young women looking down with the same winged eyeliner), and it is
 * unsteady: it scores 57 to 81 as the crop of one of them moves by a pixel. (The figures are the
 * same whether the nets run on tfjs or on onnxruntime: face-models-onnx.test.ts.)
 * A variant in which no face is found scores 0. Scores are whole numbers.
 */

/** The cosine similarity where "same person" and "different people" are equally likely (score 50). */
export const SIMILARITY_MIDPOINT = 0.58;
/** How sharply the score climbs through the midpoint (cosine units per e-fold of the odds). */
export const SIMILARITY_SPREAD = 0.06;
/**
 * The bar the calibration suggests for LIKENESS_MIN: the crossing point of the two distributions
 * (0/21 real photos of one person under it, 3/45 pairs of different people over it). A higher bar
 * turns away real likenesses as well (5 in 21 at 60): each costs a regeneration, and an AI portrait
 * of someone resembles their photos less than another photo of them does.
 */
export const DEFAULT_LIKENESS_MIN = 50;

/** Cosine similarity of two embeddings, -1..1 (1 for unit vectors pointing the same way). */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) throw new RangeError(`embeddings differ in length (${a.length} vs ${b.length})`);
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa === 0 || bb === 0 ? 0 : dot / Math.sqrt(aa * bb);
}

/** A cosine similarity mapped through the calibrated logistic to a whole number 0–100. */
export function likenessFromSimilarity(similarity: number): number {
  const odds = Math.exp((similarity - SIMILARITY_MIDPOINT) / SIMILARITY_SPREAD);
  return Math.round((100 * odds) / (1 + odds));
}

/**
 * The likeness of a variant's face to the references: the best match over the 1–4 reference
 * faces, not the mean. The references are the person's own choice of angles and moments; a
 * portrait is them if it looks like them in one of their photos, and on the calibration photos
 * one person's photos agree with each other only to a median cosine of 0.74, so a mean would mark
 * down a good portrait for not also matching a photo taken from another side. 0 when the variant
 * shows no face. Throws RangeError without references (nothing to measure against).
 */
export function likenessScore(variant: ArrayLike<number> | undefined, references: ReadonlyArray<ArrayLike<number>>): number {
  if (references.length === 0) throw new RangeError('likenessScore needs at least one reference face');
  if (!variant) return 0;
  return likenessFromSimilarity(Math.max(...references.map((reference) => cosineSimilarity(variant, reference))));
}
