/**
 * The local backend says where it put the face in each variant, and the likeness gate then
 * describes that square instead of searching for the face. These tests hold the backend to its
 * word and show that a square cannot make someone else pass.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { createLocalBackend } from '../../src/gpu/local.backend.js';
import { createStyleCatalog } from '../../src/gpu/styles.js';
import { cosineSimilarity, DEFAULT_LIKENESS_MIN, detectFaces, embedFaceAt, embedLargestFace, likenessScore, type FaceSquare } from '../../src/images/index.js';
import { faceSquareOf } from '../../src/images/face-detector.js';
import { faceModels } from '../../src/images/face-model-pool.js';
import { uprightSize } from '../../src/images/sharp.js';
import { decodeForModel } from '../../src/images/model-input.js';
import { embedFace } from '../../src/jobs/likeness-gate.js';

const astronaut = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));
const stranger = await readFile(new URL('../fixtures/face-single.jpg', import.meta.url));
const astronautFace = (await embedLargestFace(astronaut))!.vector;
const styles = createStyleCatalog();

const portraits = (photo: Buffer, seed: number) =>
  createLocalBackend().run({ kind: 'portrait', photos: [photo], style: styles.get('studio')!, subject: 'me', variants: 4, seed, identityStrength: 0.7 }, new AbortController().signal);

/** Intersection over union of two squares. */
function overlap(a: FaceSquare, b: FaceSquare): number {
  const width = Math.max(0, Math.min(a.left + a.side, b.left + b.side) - Math.max(a.left, b.left));
  const height = Math.max(0, Math.min(a.top + a.side, b.top + b.side) - Math.max(a.top, b.top));
  return (width * height) / (a.side ** 2 + b.side ** 2 - width * height);
}

describe('face squares reported by the local backend', () => {
  it('are where the face detector finds the face in each variant, and describe it as the search does', async () => {
    for (const seed of [3, 8]) {
      const result = await portraits(astronaut, seed);
      expect(result.faces).toHaveLength(4);
      for (const [variant, image] of result.images.entries()) {
        const reported = result.faces![variant]!;
        const [found] = await detectFaces(image);
        expect(found, `variant ${variant}`).toBeDefined();
        expect(overlap(reported, faceSquareOf(found!)), `variant ${variant}`).toBeGreaterThan(0.75);
        const described = (await embedFaceAt(image, reported))!;
        const searched = (await embedLargestFace(image))!.vector;
        // The two crops differ by the detector's few pixels of jitter: the same face either way.
        expect(likenessScore(described, [searched]), `variant ${variant}`).toBeGreaterThanOrEqual(95);
        expect(likenessScore(described, [astronautFace]), `variant ${variant}`).toBeGreaterThanOrEqual(90);
      }
    }
  }, 60_000);

  it('describe the square from its own rows as they would from the whole decoded picture', async () => {
    const { images, faces } = await portraits(astronaut, 4);
    for (const [variant, image] of images.entries()) {
      const square = faces![variant]!;
      const whole = await decodeForModel(image, 320);
      const scale = whole.info.width / (await uprightSize(image)).width;
      const [left, top, side] = [square.left * scale, square.top * scale, square.side * scale];
      const pixels = { data: whole.data, width: whole.info.width, height: whole.info.height, channels: whole.info.channels };
      const fromWhole = await faceModels.describe(pixels, [top, left, top + side, left + side]);
      expect(cosineSimilarity((await embedFaceAt(image, square))!, fromWhole), `variant ${variant}`).toBeGreaterThan(0.98);
    }
  }, 60_000);

  it('cannot vouch for someone else: the astronaut’s squares over a stranger’s portraits score low', async () => {
    const own = await portraits(astronaut, 5);
    const other = await portraits(stranger, 5);
    for (const [variant, image] of other.images.entries()) {
      const score = likenessScore(await embedFace(image, own.faces![variant]), [astronautFace]);
      expect(score, `variant ${variant}`).toBeLessThan(DEFAULT_LIKENESS_MIN);
    }
  }, 60_000);

  it('are looked past when they miss the image: the gate searches for the face instead', async () => {
    const { images } = await portraits(astronaut, 2);
    const outside: FaceSquare = { left: 5000, top: 5000, side: 300 };
    expect(await embedFaceAt(images[0]!, outside)).toBeUndefined();
    expect(likenessScore(await embedFace(images[0]!, outside), [astronautFace])).toBeGreaterThanOrEqual(90);
  }, 60_000);

  it('are not given where the backend found no face to frame', async () => {
    const faceless = await readFile(new URL('../fixtures/no-face-building.jpg', import.meta.url));
    const result = await portraits(faceless, 1);
    expect(result.faces).toEqual([undefined, undefined, undefined, undefined]);
  }, 60_000);
});
