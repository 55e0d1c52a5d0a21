/**
 * The face-model threads: requests run side by side and each gets its own answer, a bad request is
 * an error that leaves its thread working, and closing the pool waits for the answers.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { faceModels } from '../../src/images/face-model-pool.js';
import { decodeForModel } from '../../src/images/model-input.js';

const astronaut = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));
const decoded = await decodeForModel(astronaut, 320);
const pixels = { data: decoded.data, width: decoded.info.width, height: decoded.info.height, channels: decoded.info.channels };

afterAll(() => faceModels.close());

describe('the face-model pool', () => {
  it('answers many requests at once, each with its own result', async () => {
    const square = [40, 60, 240, 260] as const;
    const [detections, ...descriptors] = await Promise.all([faceModels.detect(pixels), ...Array.from({ length: 6 }, () => faceModels.describe(pixels, square))]);
    expect(detections).toHaveLength(1);
    expect(detections[0]!.score).toBeGreaterThan(0.7);
    for (const descriptor of descriptors) {
      expect(descriptor).toHaveLength(1024);
      expect(Array.from(descriptor)).toEqual(Array.from(descriptors[0]!));
    }
  });

  it('closes only once its threads have answered what they were asked, and serves a later request from a new thread', async () => {
    // Stopping a thread in the middle of a model run would abort the whole process (onnxruntime's
    // native teardown throws), so close() waits for the answers first.
    const asked = Promise.all(Array.from({ length: 4 }, () => faceModels.detect(pixels)));
    await faceModels.close();
    for (const detections of await asked) expect(detections).toHaveLength(1);
    const [face] = await faceModels.detect(pixels);
    expect(face!.box[2]).toBeGreaterThan(60);
  });

  it('reports a bad request as an error, and the thread goes on', async () => {
    await expect(faceModels.describe({ ...pixels, data: new Uint8Array(3) }, [0, 0, 10, 10])).rejects.toThrow(/need \d+ bytes/);
    expect(await faceModels.detect(pixels)).toHaveLength(1);
  });
});
