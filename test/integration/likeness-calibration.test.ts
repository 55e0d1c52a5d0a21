/**
 * Calibration of the likeness score on real photos: the figures behind src/images/likeness-score.ts.
 *
 * FaceRes descriptors of 160 px grey face crops, cosine similarity, mapped by a logistic with its
 * midpoint (score 50) at cosine 0.58 and spread 0.06. Measured by these tests (they print them):
 *
 *   one photo re-cropped, halved, enlarged, brighter, darker, JPEG q20, greyscale, sepia   score 99–100
 *   the local backend's graded face-framed crops of a photo, against it                   score ≥ 90
 *   one man in 7 different photos (@vladmandic/human's assets), 21 pairs   cosine 0.58 / 0.74 / 0.84, median score 94
 *   different people (10 faces: the fixtures and the assets), 45 pairs     cosine 0.27 / 0.44 / 0.66, median score 8
 *   the five people of the committed photos, 10 pairs                      1–28, and 57–81 for the hardest pair
 *   a photo without a face                                                 0
 *
 * With the bar at 50 (DEFAULT_LIKENESS_MIN), 0/21 pairs of one man fall under it and 3/45 pairs of
 * different people reach it; at 60, 5/21 fall under and 1/45 (the hardest pair) still reaches it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLocalBackend } from '../../src/gpu/local.backend.js';
import { createStyleCatalog } from '../../src/gpu/styles.js';
import {
  cosineSimilarity,
  cutRegion,
  DEFAULT_LIKENESS_MIN,
  detectFaces,
  embedLargestFace,
  likenessFromSimilarity,
  likenessScore,
  photoVariation,
  PHOTO_VARIATIONS,
} from '../../src/images/index.js';

const fixture = (name: string) => readFile(new URL(`../fixtures/${name}`, import.meta.url));
const embed = async (image: Buffer) => (await embedLargestFace(image))?.vector;

/** The people of the committed photos: the astronaut, the woman of face-single.jpg, and the three of faces-group.jpg. */
const people: Record<string, Buffer> = {};
const faces: Record<string, Float32Array> = {};

beforeAll(async () => {
  people.astronaut = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));
  people.single = await fixture('face-single.jpg');
  const group = await fixture('faces-group.jpg');
  const found = await detectFaces(group);
  expect(found.length).toBe(3);
  // Each face of the group with room around it, as a photo of its own.
  for (const [i, f] of found.sort((a, b) => a.left - b.left).entries()) {
    const side = Math.max(f.width, f.height) * 1.6;
    people[`group-${i + 1}`] = await cutRegion(group, { left: f.left + f.width / 2 - side / 2, top: f.top + f.height / 2 - side / 2, width: side, height: side });
  }
  for (const [name, photo] of Object.entries(people)) {
    const face = await embed(photo);
    expect(face, name).toBeDefined();
    faces[name] = face!;
  }
}, 60_000);

describe('likeness calibration on real photos', () => {
  it('scores the same face high under crop, scale, brightness, JPEG quality, greyscale and sepia', async () => {
    const scores: string[] = [];
    for (const name of ['astronaut', 'single', 'group-2']) {
      for (const variation of PHOTO_VARIATIONS) {
        const score = likenessScore(await embed(await photoVariation(people[name]!, variation)), [faces[name]!]);
        scores.push(`${name}/${variation} ${score}`);
        expect(score, `${name} ${variation}`).toBeGreaterThanOrEqual(90);
      }
    }
    console.log(`same face, changed: ${scores.join(', ')}`);
  }, 60_000);

  it('scores different people low: the three of faces-group.jpg far apart, and strangers mostly near 0', () => {
    const names = Object.keys(faces);
    const pairs: Array<[string, number]> = [];
    for (let i = 0; i < names.length; i++) {
      for (let j = i + 1; j < names.length; j++) pairs.push([`${names[i]}~${names[j]}`, likenessScore(faces[names[i]!], [faces[names[j]!]!])]);
    }
    console.log(`different people: ${pairs.map(([pair, score]) => `${pair} ${score}`).join(', ')}`);
    expect(pairs).toHaveLength(10);
    for (const [pair, score] of pairs.filter(([pair]) => pair.startsWith('group-'))) expect(score, pair).toBeLessThan(40);
    const sorted = pairs.map(([, score]) => score).sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(20);
    // The hardest pair, and the reason the bar is not lower: face-single.jpg and the middle woman of the
    // group, two young women looking down with the same winged eyeliner. FaceRes is a small model, and on
    // this pair it is unsteady: the group face cut one pixel to the side scores anywhere from 57 to 81.
    // It stays under what any re-framed photo of the same face scores (90, above); every other pair is under 60.
    for (const [pair, score] of pairs) expect(score, pair).toBeLessThan(pair === 'single~group-2' ? 90 : 60);
  });

  it('scores an image without a face 0', async () => {
    for (const name of ['no-face-fruits.jpg', 'no-face-building.jpg']) {
      const face = await embed(await fixture(name));
      expect(face, name).toBeUndefined();
      expect(likenessScore(face, [faces.astronaut!])).toBe(0);
    }
  });

  it('scores the local backend’s portraits (face-framed crops, graded) high against their photo', async () => {
    const styles = createStyleCatalog();
    const local = createLocalBackend();
    for (const style of ['studio', 'bw', 'memorial']) {
      const { images } = await local.run(
        { kind: 'portrait', photos: [people.astronaut!], style: styles.get(style)!, subject: 'me', variants: 4, seed: 7, identityStrength: 0.7 },
        new AbortController().signal,
      );
      const scores = await Promise.all(images.map(async (image) => likenessScore(await embed(image), [faces.astronaut!])));
      for (const score of scores) expect(score, `${style}: ${scores.join(' ')}`).toBeGreaterThanOrEqual(90);
      // …and low against someone else.
      const stranger = await Promise.all(images.map(async (image) => likenessScore(await embed(image), [faces.single!])));
      for (const score of stranger) expect(score, `${style} vs a stranger: ${stranger.join(' ')}`).toBeLessThan(DEFAULT_LIKENESS_MIN);
    }
  }, 60_000);

  // @vladmandic/human ships screenshots of its demos: one man (its author) in several photos, and other people.
  const assets = new URL('../../node_modules/@vladmandic/human/assets/', import.meta.url);
  const hasAssets = ['screenshot-facedetect.jpg', 'screenshot-faceid.jpg', 'screenshot-facematch.jpg'].every((f) => existsSync(new URL(f, assets)));

  it.skipIf(!hasAssets)('puts one person across different photos above the midpoint and different people below it (the wider set)', async () => {
    const asset = (name: string) => readFileSync(new URL(name, assets));
    const detect = asset('screenshot-facedetect.jpg');
    const match = asset('screenshot-facematch.jpg');
    // Thumbnails cut from the screenshots (coordinates of @vladmandic/human 3.3.x), each framed in grey for the detector.
    const tile = (image: Buffer, left: number, top: number, width: number, height: number) => cutRegion(image, { left, top, width, height }, 0.6);
    const sameMan: Buffer[] = [await tile(detect, 7, 344, 150, 154), asset('screenshot-faceid.jpg')];
    for (const i of [0, 1, 7, 9, 11]) sameMan.push(await tile(match, Math.round(i * 95.7) + 2, 282, 90, 100));
    const others: Buffer[] = [];
    for (const x of [164, 321, 478, 635]) others.push(await tile(detect, x, 344, 150, 154));

    const man = await Promise.all(sameMan.map(embed));
    const strangers = [...(await Promise.all(others.map(embed))), ...Object.values(faces), man[0]];
    for (const face of [...man, ...strangers]) expect(face).toBeDefined();

    const cosines = (list: Array<Float32Array | undefined>) => list.flatMap((a, i) => list.slice(i + 1).map((b) => cosineSimilarity(a!, b!)));
    const same = cosines(man);
    const different = cosines(strangers);
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const describe = (values: number[]) => {
      const s = [...values].sort((a, b) => a - b);
      return `n ${s.length}, cosine min ${s[0]!.toFixed(2)} median ${median(s).toFixed(2)} max ${s.at(-1)!.toFixed(2)} → score median ${likenessFromSimilarity(median(s))}`;
    };
    const errors = [40, 50, 60, 70].map((bar) => {
      const missed = same.filter((c) => likenessFromSimilarity(c) < bar).length;
      const passed = different.filter((c) => likenessFromSimilarity(c) >= bar).length;
      return `${bar}: ${missed}/${same.length} of one man under, ${passed}/${different.length} different pairs at or over`;
    });
    console.log(`one man, different photos: ${describe(same)}\ndifferent people: ${describe(different)}\nbar ${errors.join('; ')}`);
    expect(same).toHaveLength(21);
    expect(different).toHaveLength(45);
    expect(likenessFromSimilarity(median(same))).toBeGreaterThanOrEqual(75);
    expect(likenessFromSimilarity(median(different))).toBeLessThanOrEqual(25);
    // Where the default bar sits, both kinds of mistake are rare: at most 1 in 5 either way.
    expect(same.filter((c) => likenessFromSimilarity(c) < DEFAULT_LIKENESS_MIN).length / same.length).toBeLessThanOrEqual(0.2);
    expect(different.filter((c) => likenessFromSimilarity(c) >= DEFAULT_LIKENESS_MIN).length / different.length).toBeLessThanOrEqual(0.2);
  }, 60_000);
});
