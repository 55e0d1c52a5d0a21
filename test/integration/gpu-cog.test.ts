/** The Cog backend against fake Cog containers: scheduling, health, dead endpoints, costs. */
import { readFile } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GpuTask } from '../../src/gpu/backend.js';
import { createCogBackend } from '../../src/gpu/cog.backend.js';
import type { RetryPolicy } from '../../src/gpu/http-retry.js';
import { createModelCatalog } from '../../src/gpu/models.js';
import { createStyleCatalog } from '../../src/gpu/styles.js';
import { imageInfo } from '../../src/images/index.js';
import { startFakeCog, type FakeCog, type FakeCogOptions } from '../support/fake-cog.js';

const styles = createStyleCatalog();
const catalog = createModelCatalog(undefined, styles);
const retry: RetryPolicy = { retries: 3, baseDelayMs: 5, maxDelayMs: 1_000, timeoutMs: 1_000 };
const live = () => new AbortController().signal;
let photo: Buffer;
let fakes: FakeCog[] = [];

const portrait = (variants = 4): GpuTask => ({ kind: 'portrait', photos: [photo], style: styles.get('noir')!, subject: 'memorial', variants, seed: 5, identityStrength: 0.9 });

async function fleet(n: number, options: FakeCogOptions = {}): Promise<FakeCog[]> {
  fakes = await Promise.all(Array.from({ length: n }, () => startFakeCog(options)));
  return fakes;
}

const backendFor = (endpoints: Array<{ url: string; model?: string }>, extra: { pricePerGpuHour?: number; retryDeadMs?: number; poolNow?: () => number } = {}) =>
  createCogBackend({ endpoints, catalog, pricePerGpuHour: extra.pricePerGpuHour ?? 0, retryDeadMs: extra.retryDeadMs ?? 150, retry, poolNow: extra.poolNow });

beforeAll(async () => {
  photo = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));
});
afterEach(async () => {
  await Promise.all(fakes.map((f) => f.close()));
  fakes = [];
});

describe('cog backend', () => {
  it('sends { input } to idle endpoints: 4 variants on 4 endpoints run at once, one each', async () => {
    const cogs = await fleet(4, { serviceMs: 150 });
    const backend = backendFor(cogs.map((c) => ({ url: c.url })));
    await backend.run(portrait(1), live()); // first use health-checks; warm them all
    await backend.run(portrait(4), live());
    const result = await backend.run(portrait(4), live());
    expect(result.images).toHaveLength(4);
    // The four ran side by side: each started before any of them ended.
    const spans = cogs.map((c) => c.intervals.at(-1)!);
    expect(Math.max(...spans.map(([start]) => start))).toBeLessThan(Math.min(...spans.map(([, end]) => end)));
    for (const c of cogs) expect(c.maxConcurrent).toBe(1);
    const last = cogs.map((c) => c.started.at(-1)!);
    expect(new Set(last.map((s) => s.input.seed))).toEqual(new Set([5, 6, 7, 8]));
    // Memorial wording, and the first portrait model's input (untagged endpoints run whatever they are sent), images as data URIs.
    expect(last[0]!.input).toMatchObject({ prompt: expect.stringContaining('as they were in life'), input_images: [expect.stringMatching(/^data:image\/jpeg;base64,/)] });
  });

  it('runs one prediction at a time per endpoint: 4 variants on 2 endpoints take two rounds', async () => {
    const cogs = await fleet(2, { serviceMs: 120 });
    const backend = backendFor(cogs.map((c) => ({ url: c.url })));
    const started = performance.now();
    const result = await backend.run(portrait(4), live());
    expect(result.images).toHaveLength(4);
    expect(performance.now() - started).toBeGreaterThanOrEqual(240);
    expect(cogs.map((c) => c.started.length)).toEqual([2, 2]);
    expect(cogs.map((c) => c.maxConcurrent)).toEqual([1, 1]);
  });

  it('skips a dead endpoint, and health-checks it again later', async () => {
    const [a, b] = await fleet(2, { serviceMs: 10 });
    let skipped = 0; // time moved on by the test instead of waited out
    const backend = backendFor([{ url: a!.url }, { url: b!.url }], { retryDeadMs: 30_000, poolNow: () => performance.now() + skipped });
    a!.setDown(true);
    const first = await backend.run(portrait(4), live());
    expect(first.images).toHaveLength(4);
    expect(a!.started).toHaveLength(0);
    expect(b!.started).toHaveLength(4);
    expect(backend.pool.snapshot().find((e) => e.url === a!.url)).toMatchObject({ dead: true });

    a!.setDown(false);
    await backend.run(portrait(4), live());
    expect(a!.started).toHaveLength(0); // still skipped: not yet retryDeadMs
    skipped += 30_000;
    const checks = a!.healthChecks;
    await backend.run(portrait(4), live());
    expect(a!.healthChecks).toBeGreaterThan(checks);
    expect(a!.started.length).toBeGreaterThan(0);
    expect(backend.pool.snapshot().every((e) => !e.dead)).toBe(true);
  });

  it('fails fast and retryable when every endpoint is down', async () => {
    const cogs = await fleet(2);
    cogs.forEach((c) => c.setDown(true));
    const started = performance.now();
    const error = await backendFor(cogs.map((c) => ({ url: c.url }))).run(portrait(1), live()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'GPU_UNAVAILABLE', retryable: true });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('an endpoint that is busy with someone else (409) or not ready (STARTING) is passed over', async () => {
    const [a, b] = await fleet(2, { serviceMs: 10 });
    const backend = backendFor([{ url: a!.url }, { url: b!.url }]);
    a!.setHealth('STARTING');
    await backend.run(portrait(2), live());
    expect(a!.started).toHaveLength(0);
    a!.setHealth('READY');
    await new Promise((r) => setTimeout(r, 300));
    b!.failNext({ status: 409, times: 2 });
    const result = await backend.run(portrait(2), live());
    expect(result.images).toHaveLength(2);
    expect(a!.started.length).toBeGreaterThan(0);
  });

  it('records GPU seconds from predict_time and cost from the price per GPU-hour', async () => {
    const [cog] = await fleet(1, { serviceMs: 5, predictTime: 2.5 });
    const result = await backendFor([{ url: cog!.url }], { pricePerGpuHour: 3.6 }).run(portrait(4), live());
    expect(result.gpuSeconds).toBeCloseTo(10);
    expect(result.costUsd).toBeCloseTo((10 * 3.6) / 3600);
  });

  it('sends each task to the endpoints tagged with its model', async () => {
    const [restorer, colorizer, upscaler] = await fleet(3, { serviceMs: 5 });
    const backend = backendFor([
      { url: restorer!.url, model: 'sczhou/codeformer' },
      { url: colorizer!.url, model: 'piddnad/ddcolor' },
      { url: upscaler!.url, model: 'nightmareai/real-esrgan' },
    ]);
    const restored = await backend.run({ kind: 'restore', photo, colorize: true, fidelity: 0.9 }, live());
    expect(restored.model).toBe('sczhou/codeformer+piddnad/ddcolor');
    expect(restorer!.started[0]!.input).toMatchObject({ codeformer_fidelity: 0.9, upscale: 2 });
    expect(colorizer!.started).toHaveLength(1);
    const up = await backend.run({ kind: 'upscale', image: photo, targetLongEdge: 1500 }, live());
    expect(await imageInfo(up.images[0]!)).toMatchObject({ width: 1500, height: 1500 });
    expect(upscaler!.started[0]!.input).toMatchObject({ scale: 4 });
    // No endpoint runs any portrait model: refused for good, not retried.
    await expect(backend.run(portrait(1), live())).rejects.toMatchObject({ code: 'GPU_UNAVAILABLE', retryable: false });
  });

  it('a failed prediction and refused input are told apart', async () => {
    const [cog] = await fleet(1, { serviceMs: 5 });
    const backend = backendFor([{ url: cog!.url }]);
    cog!.failNext({ error: 'CUDA error: out of memory' });
    await expect(backend.run(portrait(1), live())).rejects.toMatchObject({ code: 'GPU_UNAVAILABLE', retryable: true });
    cog!.failNext({ status: 422 });
    await expect(backend.run(portrait(1), live())).rejects.toMatchObject({ code: 'GPU_REJECTED_INPUT', retryable: false });
  });
});
