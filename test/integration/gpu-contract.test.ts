/**
 * One contract every GpuBackend keeps (local; replicate against a fake Replicate; cog against fake
 * Cog containers): success, a transient failure then success, a permanent failure, cancel, time-out.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import type { GpuBackend, GpuTask } from '../../src/gpu/backend.js';
import { createCogBackend } from '../../src/gpu/cog.backend.js';
import type { RetryPolicy } from '../../src/gpu/http-retry.js';
import { createLocalBackend } from '../../src/gpu/local.backend.js';
import { createModelCatalog } from '../../src/gpu/models.js';
import { createReplicateBackend } from '../../src/gpu/replicate.backend.js';
import { createStyleCatalog } from '../../src/gpu/styles.js';
import { withTimeLimit } from '../../src/gpu/time-limit.js';
import { imageInfo } from '../../src/images/index.js';
import { startFakeCog, type FakeCog } from '../support/fake-cog.js';
import { FAKE_TOKEN, startFakeReplicate, type FakeReplicate } from '../support/fake-replicate.js';

interface Harness {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The backend under test, its calls limited to `timeLimitMs` when given. */
  backend(timeLimitMs?: number): GpuBackend;
  /** Makes the next remote call fail in a way a retry gets past; absent when nothing remote can fail. */
  transientFault?(): void;
  /** Arranges a failure no retry can fix; returns the task to run. */
  permanentFault(): GpuTask;
  /** A task that takes a long time from now on. */
  slowTask(): GpuTask;
  /** Whether the remote work was cancelled (absent: there is none). */
  cancelledRemotely?(): boolean;
  /** Undoes faults and slowness after each case. */
  reset?(): void;
  /** How soon after an abort or its time limit a run must have ended. */
  promptMs: number;
}

const retry: RetryPolicy = { retries: 3, baseDelayMs: 5, maxDelayMs: 1_000, timeoutMs: 2_000 };
const styles = createStyleCatalog();
const catalog = createModelCatalog(undefined, styles);
let photo: Buffer;
let small: Buffer;

const portrait = (): GpuTask => ({ kind: 'portrait', photos: [photo, small], style: styles.get('studio')!, subject: 'me', variants: 4, seed: 7, identityStrength: 0.7 });

function replicateHarness(): Harness {
  let fake: FakeReplicate;
  return {
    name: 'replicate (fake API)',
    async start() {
      fake = await startFakeReplicate();
    },
    stop: () => fake.close(),
    backend(timeLimitMs) {
      const backend = createReplicateBackend({ token: FAKE_TOKEN, baseUrl: fake.url, catalog, pollIntervalMs: 10, retry });
      return timeLimitMs ? withTimeLimit(backend, timeLimitMs) : backend;
    },
    transientFault: () => fake.inject({ method: 'POST', path: /\/predictions$/, status: 503, times: 2 }),
    permanentFault() {
      fake.inject({ method: 'POST', path: /\/predictions$/, status: 422, body: { title: 'Input validation failed', detail: '- input.seed: bad', status: 422 } });
      return portrait();
    },
    slowTask() {
      fake.setTiming({ runMs: 600_000 });
      return portrait();
    },
    cancelledRemotely: () => fake.cancelled.length > 0,
    reset: () => fake.reset(),
    promptMs: 2_000,
  };
}

function cogHarness(): Harness {
  let fakes: FakeCog[] = [];
  return {
    name: 'cog (fake containers)',
    async start() {
      fakes = await Promise.all([startFakeCog({ serviceMs: 10 }), startFakeCog({ serviceMs: 10 })]);
    },
    stop: async () => {
      await Promise.all(fakes.map((f) => f.close()));
    },
    backend(timeLimitMs) {
      const backend = createCogBackend({ endpoints: fakes.map((f) => ({ url: f.url })), catalog, pricePerGpuHour: 2, retryDeadMs: 200, retry });
      return timeLimitMs ? withTimeLimit(backend, timeLimitMs) : backend;
    },
    transientFault: () => fakes.forEach((f) => f.failNext({ status: 500 })),
    permanentFault() {
      fakes.forEach((f) => f.failNext({ status: 422, times: 4 }));
      return portrait();
    },
    slowTask() {
      fakes.forEach((f) => f.setServiceMs(600_000));
      return portrait();
    },
    cancelledRemotely: () => fakes.some((f) => f.cancelled.length > 0),
    reset: () => fakes.forEach((f) => f.reset()),
    promptMs: 2_000,
  };
}

function localHarness(): Harness {
  return {
    name: 'local (CPU)',
    start: async () => undefined,
    stop: async () => undefined,
    backend: (timeLimitMs) => (timeLimitMs ? withTimeLimit(createLocalBackend(), timeLimitMs) : createLocalBackend()),
    permanentFault: () => ({ ...portrait(), photos: [Buffer.from('not an image at all')] }) as GpuTask,
    // A 3000 px upscale keeps the CPU busy for a few hundred ms; the local backend checks its signal between steps.
    slowTask: () => ({ kind: 'upscale', image: photo, targetLongEdge: 3000 }),
    // It stops between CPU steps, not inside one; on a loaded machine a step takes seconds.
    promptMs: 10_000,
  };
}

beforeAll(async () => {
  photo = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));
  small = await sharp(photo).resize(200).flop().jpeg().toBuffer();
});

describe.each([localHarness(), replicateHarness(), cogHarness()])('GpuBackend contract: $name', (h) => {
  beforeAll(() => h.start());
  afterAll(() => h.stop());
  afterEach(() => h.reset?.());
  const live = () => new AbortController().signal;

  it('success: 4 portraits, a restore, an exact upscale, with model, credit and usage (the GPU handler labels them)', async () => {
    const backend = h.backend();
    const result = await backend.run(portrait(), live());
    expect(result.images).toHaveLength(4);
    expect(result.model).toMatch(/\S/);
    expect(result.credit).toMatch(/AI-generated/);
    expect(result.gpuSeconds).toBeGreaterThanOrEqual(0);
    expect(result.costUsd).toBeGreaterThanOrEqual(0);
    for (const image of result.images) expect(['jpeg', 'png', 'webp']).toContain((await imageInfo(image)).format);
    const restored = await backend.run({ kind: 'restore', photo: small, colorize: true, fidelity: 0.9 }, live());
    expect(restored.images).toHaveLength(1);
    const upscaled = await backend.run({ kind: 'upscale', image: small, targetLongEdge: 640 }, live());
    expect(await imageInfo(upscaled.images[0]!)).toMatchObject({ width: 640, format: 'jpeg' });
  });

  it.skipIf(!h.transientFault)('transient failure then success: retried (inside or by the job), one result set', async () => {
    const backend = h.backend();
    h.transientFault!();
    let runs = 0;
    let result;
    while (!result && runs < 3) {
      runs += 1;
      try {
        result = await backend.run(portrait(), live());
      } catch (error) {
        expect(error).toBeInstanceOf(AppError);
        expect((error as AppError).retryable).toBe(true);
      }
    }
    expect(result?.images).toHaveLength(4);
  });

  it('permanent failure: a non-retryable AppError', async () => {
    const error = await h.backend().run(h.permanentFault(), live()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ retryable: false });
    expect((error as AppError).code).toMatch(/^GPU_(REJECTED_INPUT|FAILED)$/);
  });

  it('cancel: an aborted run rejects promptly with the reason, and its remote work is cancelled', async () => {
    const controller = new AbortController();
    const running = h.backend().run(h.slowTask(), controller.signal);
    await new Promise((r) => setTimeout(r, 80));
    const started = performance.now();
    controller.abort(new Error('user cancelled'));
    await expect(running).rejects.toThrow('user cancelled');
    expect(performance.now() - started).toBeLessThan(h.promptMs);
    if (h.cancelledRemotely) expect(h.cancelledRemotely()).toBe(true);
  });

  it('time-out: a run past its limit rejects with a retryable GPU_UNAVAILABLE, and its remote work is cancelled', async () => {
    const started = performance.now();
    const error = await h.backend(150).run(h.slowTask(), live()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'GPU_UNAVAILABLE', retryable: true });
    expect(performance.now() - started).toBeLessThan(150 + h.promptMs);
    if (h.cancelledRemotely) expect(h.cancelledRemotely()).toBe(true);
  });
});
