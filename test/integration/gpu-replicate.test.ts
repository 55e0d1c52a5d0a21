/** The Replicate backend against a fake Replicate API, driven by the real `replicate` client. */
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import type { GpuTask, PortraitTask } from '../../src/gpu/backend.js';
import type { Clock } from '../../src/gpu/clock.js';
import type { RetryPolicy } from '../../src/gpu/http-retry.js';
import { createModelCatalog, type ModelCatalog } from '../../src/gpu/models.js';
import { createReplicateBackend } from '../../src/gpu/replicate.backend.js';
import { createStyleCatalog } from '../../src/gpu/styles.js';
import { imageInfo } from '../../src/images/index.js';
import { FAKE_TOKEN, startFakeReplicate, virtualClock, type FakeReplicate } from '../support/fake-replicate.js';

const styles = createStyleCatalog();
const retry: RetryPolicy = { retries: 3, baseDelayMs: 5, maxDelayMs: 10_000, timeoutMs: 2_000 };
const live = () => new AbortController().signal;
let photos: Buffer[];

const portrait = (overrides: Partial<PortraitTask> = {}): GpuTask => ({
  kind: 'portrait',
  photos,
  style: styles.get('studio')!,
  subject: 'me',
  variants: 4,
  seed: 1000,
  identityStrength: 0.7,
  ...overrides,
});

beforeAll(async () => {
  const astronaut = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));
  photos = [astronaut, await sharp(astronaut).flop().jpeg().toBuffer(), await sharp(astronaut).extract({ left: 60, top: 40, width: 400, height: 440 }).jpeg().toBuffer()];
});

describe('replicate backend', () => {
  let fake: FakeReplicate;
  const backend = (o: { clock?: Clock; catalog?: ModelCatalog; fileInputs?: 'upload' | 'data-uri'; pollIntervalMs?: number } = {}) =>
    createReplicateBackend({ token: FAKE_TOKEN, baseUrl: fake.url, catalog: o.catalog ?? createModelCatalog(undefined, styles), pollIntervalMs: o.pollIntervalMs ?? 10, retry, clock: o.clock, fileInputs: o.fileInputs });

  beforeAll(async () => {
    fake = await startFakeReplicate();
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  it('sends 3 photos as input_images to the configured model, once uploaded, and brings back 4 labelled JPEGs', async () => {
    const result = await backend().run(portrait(), live());

    const uploads = fake.requests.filter((r) => r.method === 'POST' && r.path === '/v1/files');
    expect(uploads).toHaveLength(3);
    const creates = fake.creates('black-forest-labs/flux-2-pro');
    expect(creates).toHaveLength(4);
    expect(creates.every((c) => c.path === '/v1/models/black-forest-labs/flux-2-pro/predictions')).toBe(true);
    const refs = creates[0]!.body.input.input_images as string[];
    expect(refs).toHaveLength(3);
    for (const c of creates) expect(c.body.input.input_images).toEqual(refs);
    expect(creates.map((c) => c.body.input.seed).sort()).toEqual([1000, 1001, 1002, 1003]);
    expect(creates[0]!.body.input).toMatchObject({ aspect_ratio: '4:5', output_format: 'jpg', prompt: expect.stringContaining('studio portrait photograph of the person in the reference photos') });
    // The uploaded files are the photos themselves, and are deleted once the job is done.
    const uploaded = refs.map((ref) => /\/files\/([^/]+)\/download/.exec(ref)![1]!);
    expect(fake.deletedFiles.sort()).toEqual([...uploaded].sort());

    expect(result).toMatchObject({ model: 'black-forest-labs/flux-2-pro', credit: expect.stringContaining('black-forest-labs/flux-2-pro') });
    expect(result.images).toHaveLength(4);
    for (const image of result.images) expect(await imageInfo(image)).toMatchObject({ width: 256, height: 320, format: 'jpeg' });
    // 4 predictions of 1.5 s each; flux-2-pro is priced per run in the catalog.
    expect(result.gpuSeconds).toBeCloseTo(6);
    expect(result.costUsd).toBeCloseTo(4 * 0.03);
  });

  it('never puts the API token anywhere but the Authorization header', async () => {
    await backend().run(portrait(), live());
    const text = JSON.stringify(fake.requests.map((r) => [r.path, r.body]));
    expect(text).not.toContain(FAKE_TOKEN);
    // Output downloads go to the delivery host without our Authorization header.
    expect(fake.requests.filter((r) => r.path.startsWith('/delivery/')).every((r) => !r.authorized)).toBe(true);
  });

  it('can send inputs as data URIs instead of uploads', async () => {
    await backend({ fileInputs: 'data-uri' }).run(portrait({ variants: 1 }), live());
    expect(fake.requests.filter((r) => r.path === '/v1/files')).toHaveLength(0);
    expect((fake.creates()[0]!.body.input.input_images as string[])[0]).toMatch(/^data:image\/jpeg;base64,/);
  });

  it('falls back to data URIs where the API has no files endpoint', async () => {
    fake.inject({ method: 'POST', path: /^\/v1\/files$/, status: 404, times: 3 });
    await backend().run(portrait({ variants: 1 }), live());
    expect((fake.creates()[0]!.body.input.input_images as string[]).every((ref) => ref.startsWith('data:image/jpeg;base64,'))).toBe(true);
  });

  it("a style's model override picks the model: kontext-pro gets the first photo as input_image", async () => {
    const file = join(tmpdir(), `styles-override-${Date.now()}.json`);
    await writeFile(file, JSON.stringify([{ ...styles.get('watercolour')!, models: { portrait: 'black-forest-labs/flux-kontext-pro' } }]));
    const custom = createStyleCatalog(file);
    const result = await backend({ catalog: createModelCatalog(undefined, custom) }).run(portrait({ style: custom.get('watercolour')!, variants: 2 }), live());
    expect(result.model).toBe('black-forest-labs/flux-kontext-pro');
    expect(fake.creates('black-forest-labs/flux-kontext-pro')).toHaveLength(2);
    expect(fake.requests.filter((r) => r.path === '/v1/files')).toHaveLength(1);
  });

  it('waits for a prediction still processing after 60 s instead of losing it', async () => {
    const clock = virtualClock();
    const slow = await startFakeReplicate({ clock, startMs: 20_000, runMs: 75_000 });
    try {
      const started = clock.now();
      const result = await createReplicateBackend({
        token: FAKE_TOKEN,
        baseUrl: slow.url,
        catalog: createModelCatalog(),
        pollIntervalMs: 1_000,
        retry,
        clock,
      }).run(portrait({ variants: 1 }), live());
      expect(result.images).toHaveLength(1);
      expect(clock.now() - started).toBeGreaterThanOrEqual(95_000);
      const polls = slow.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/predictions/'));
      expect(polls.length).toBeGreaterThanOrEqual(90);
      expect(result.gpuSeconds).toBeCloseTo(75);
    } finally {
      await slow.close();
    }
  });

  it('500 twice then success: retried inside the call, one prediction set', async () => {
    fake.inject({ method: 'POST', path: /\/predictions$/, status: 500, times: 2 });
    const result = await backend().run(portrait(), live());
    expect(result.images).toHaveLength(4);
    expect(fake.creates()).toHaveLength(6);
  });

  it('honours Retry-After on 429', async () => {
    const clock = virtualClock();
    fake.inject({ method: 'POST', path: /\/predictions$/, status: 429, headers: { 'retry-after': '7' }, body: { title: 'Too many requests', status: 429 } });
    const started = clock.now();
    await backend({ clock }).run(portrait({ variants: 1 }), live());
    expect(clock.now() - started).toBeGreaterThanOrEqual(7_000);
    expect(fake.creates()).toHaveLength(2);
  });

  it('gives up (retryable) on a Retry-After longer than it may wait, without hammering', async () => {
    fake.inject({ method: 'POST', path: /\/predictions$/, status: 429, headers: { 'retry-after': '3600' }, times: 10 });
    const error = await backend().run(portrait({ variants: 1 }), live()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'GPU_UNAVAILABLE', retryable: true });
    expect(fake.creates()).toHaveLength(1);
  });

  it('5xx on polling is retried; persistent 5xx is a retryable error, asked no more often than the policy says', async () => {
    fake.inject({ method: 'GET', path: /^\/v1\/predictions\//, status: 502, times: 100 });
    const error = await backend().run(portrait({ variants: 1 }), live()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'GPU_UNAVAILABLE', retryable: true });
    // 1 try + 3 retries; the client's own retry loop is answered from memory.
    expect(fake.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/predictions/'))).toHaveLength(4);
  });

  it('422: no retry, a non-retryable GPU_REJECTED_INPUT that says what was wrong', async () => {
    fake.inject({ method: 'POST', path: /\/predictions$/, status: 422, body: { title: 'Input validation failed', detail: '- input.input_images: too many', status: 422 }, times: 4 });
    const error = await backend().run(portrait(), live()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'GPU_REJECTED_INPUT', retryable: false });
    expect((error as Error).message).toContain('input.input_images: too many');
    expect(fake.creates().length).toBeLessThanOrEqual(4);
  });

  it('a failed prediction: refused content is not retried, a GPU hiccup is', async () => {
    fake.failPredictions('NSFW content detected (E005)', { times: 4 });
    expect(await backend().run(portrait(), live()).catch((e: unknown) => e)).toMatchObject({ code: 'GPU_REJECTED_INPUT', retryable: false });
    fake.reset();
    fake.failPredictions('CUDA out of memory', { times: 1 });
    expect(await backend().run(portrait({ variants: 1 }), live()).catch((e: unknown) => e)).toMatchObject({ code: 'GPU_UNAVAILABLE', retryable: true });
  });

  it('when one variant fails, the others are cancelled', async () => {
    fake.setTiming({ runMs: 60_000 });
    fake.inject({ method: 'POST', path: /\/predictions$/, status: 422, times: 1 });
    await expect(backend().run(portrait(), live())).rejects.toMatchObject({ code: 'GPU_REJECTED_INPUT' });
    const created = [...fake.predictions.values()].filter((p) => p.status !== 'succeeded');
    expect(created.length).toBeGreaterThan(0);
    expect(created.every((p) => p.status === 'canceled')).toBe(true);
  });

  it('copies outputs at once: short-lived output URLs have expired by the time anyone looks', async () => {
    // Outputs live 500 ms of the fake's time; that time moves only when the backend sleeps between polls.
    const clock = virtualClock();
    const shortLived = await startFakeReplicate({ clock, outputTtlMs: 500, runMs: 2_000 });
    try {
      const result = await createReplicateBackend({ token: FAKE_TOKEN, baseUrl: shortLived.url, catalog: createModelCatalog(), pollIntervalMs: 100, retry, clock }).run(portrait(), live());
      expect(result.images).toHaveLength(4);
      clock.advance(1_000);
      const url = [...shortLived.predictions.values()][0]!.output as string;
      expect((await fetch(url)).status).toBe(404);
    } finally {
      await shortLived.close();
    }
  });

  it('an unavailable model (404) falls back to the next in the catalog: flux-kontext-pro with one input_image', async () => {
    fake.inject({ method: 'POST', path: /flux-2-pro\/predictions$/, status: 404, times: 4 });
    const result = await backend().run(portrait(), live());
    expect(result.model).toBe('black-forest-labs/flux-kontext-pro');
    const creates = fake.creates('black-forest-labs/flux-kontext-pro');
    expect(creates).toHaveLength(4);
    expect(creates[0]!.body.input.input_image).toMatch(/\/files\/.+\/download\?/);
    expect(creates[0]!.body.input.input_images).toBeUndefined();
  });

  it('restores with codeformer at high fidelity, then colorizes with ddcolor, by pinned versions', async () => {
    const result = await backend().run({ kind: 'restore', photo: photos[0]!, colorize: true, fidelity: 0.9 }, live());
    expect(result.model).toBe('sczhou/codeformer+piddnad/ddcolor');
    const [restore, colorize] = fake.creates();
    expect(restore!.body).toMatchObject({ version: expect.stringMatching(/^7de2ea26/), input: { codeformer_fidelity: 0.9, background_enhance: true, face_upsample: true, upscale: 2 } });
    expect(colorize!.body).toMatchObject({ version: expect.stringMatching(/^ca494ba1/), input: { model_size: 'large' } });
    // codeformer doubled the 512 px photo; ddcolor kept the size.
    expect(await imageInfo(result.images[0]!)).toMatchObject({ width: 1024, height: 1024 });
    expect(result).toMatchObject({ credit: expect.stringContaining('sczhou/codeformer'), note: 'AI restoration of an original photograph' });
    // Hardware-priced: predict_time x the catalog's T4 price, for two predictions.
    expect(result.costUsd).toBeCloseTo(2 * 1.5 * 0.000225);
  });

  it('upscales with real-esrgan, then resizes to exactly the target long edge', async () => {
    const result = await backend().run({ kind: 'upscale', image: photos[2]!, targetLongEdge: 2000 }, live());
    expect(fake.creates('nightmareai/real-esrgan')[0]!.body.input).toMatchObject({ scale: 4, face_enhance: false });
    expect(await imageInfo(result.images[0]!)).toMatchObject({ width: Math.round((2000 * 400) / 440), height: 2000, format: 'jpeg' });
  });

  it('a batching model in MODELS_FILE makes the 4 variants in one call', async () => {
    const catalog = createModelCatalog();
    const file = join(tmpdir(), `models-${Date.now()}.json`);
    const data = structuredClone(catalog.data) as { models: Record<string, unknown>; tasks: Record<string, string[]> };
    data.models['acme/portrait-xl'] = { input: { prompt: '{{prompt}}', image: '{{photo}}', seed: '{{seed}}' }, batch: { field: 'num_outputs', max: 4 }, price: { perImage: 0.01 } };
    data.tasks.portrait = ['acme/portrait-xl'];
    await writeFile(file, JSON.stringify(data));
    fake.models.set('acme/portrait-xl', {
      keys: ['prompt', 'image', 'seed', 'num_outputs'],
      listOutput: true,
      validate: () => [],
      render: async (input) =>
        Promise.all(
          Array.from({ length: Number(input.num_outputs) }, async (_, i) => ({
            bytes: await sharp({ create: { width: 100, height: 120, channels: 3, background: { r: i * 40, g: 0, b: 0 } } }).png().toBuffer(),
            ext: 'png',
          })),
        ),
    });
    const result = await backend({ catalog: createModelCatalog(file, styles) }).run(portrait(), live());
    expect(fake.creates('acme/portrait-xl')).toHaveLength(1);
    expect(fake.creates('acme/portrait-xl')[0]!.body.input).toMatchObject({ num_outputs: 4, seed: 1000 });
    expect(result.images).toHaveLength(4);
    expect(result.costUsd).toBeCloseTo(0.04);
  });

  it('cancels the prediction when the signal aborts', async () => {
    fake.setTiming({ runMs: 600_000 });
    const controller = new AbortController();
    const running = backend().run(portrait({ variants: 2 }), controller.signal);
    await new Promise((r) => setTimeout(r, 100));
    controller.abort(new Error('job cancelled'));
    await expect(running).rejects.toThrow('job cancelled');
    expect(fake.cancelled).toHaveLength(2);
    expect([...fake.predictions.values()].filter((p) => fake.cancelled.includes(p.id)).every((p) => p.status === 'canceled')).toBe(true);
  });
});

describe('model catalog', () => {
  it('MODELS_FILE problems are named all at once, and a style override must name a known model', async () => {
    const file = join(tmpdir(), `bad-models-${Date.now()}.json`);
    await writeFile(
      file,
      JSON.stringify({
        models: { 'a/b': { input: { x: '{{Bad Name}}' }, price: { hardware: 'quantum-gpu' } } },
        tasks: { portrait: ['a/b'], restore: ['missing/model'], colorize: ['a/b'], upscale: ['a/b'] },
      }),
    );
    const problems = (() => {
      try {
        createModelCatalog(file);
      } catch (e) {
        return (e as ConfigError).problems;
      }
      return [];
    })();
    expect(problems.join('\n')).toMatch(/MODELS_FILE: tasks.restore.0: model "missing\/model" is not in models/);
    expect(problems.join('\n')).toMatch(/unknown hardware "quantum-gpu"/);
    expect(problems.join('\n')).toMatch(/bad placeholder/);

    const stylesFile = join(tmpdir(), `styles-${Date.now()}.json`);
    await writeFile(stylesFile, JSON.stringify([{ id: 'odd', label: 'Odd', description: 'x', prompt: 'odd {subject}', models: { portrait: 'nobody/nothing' } }]));
    expect(() => createModelCatalog(undefined, createStyleCatalog(stylesFile))).toThrow(ConfigError);
  });
});
