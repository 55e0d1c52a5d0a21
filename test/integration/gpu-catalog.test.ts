/** The style and model catalogs: subject-aware prompts, identity steps, input templates, HTTP retry rules. */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { planCalls } from '../../src/gpu/catalog.backend.js';
import { createGpuBackend } from '../../src/gpu/create-backend.js';
import { createRetryingFetch, retryAfterMs } from '../../src/gpu/http-retry.js';
import { buildInput, createModelCatalog, ImageInput, outputFiles } from '../../src/gpu/models.js';
import { createStyleCatalog, identityPhrase, renderNegativePrompt, renderPrompt, strongerIdentity } from '../../src/gpu/styles.js';
import { virtualClock } from '../support/fake-replicate.js';

const styles = createStyleCatalog();

describe('style catalog', () => {
  it('has the styles the studio promises, each with a prompt, negative prompt and identity settings', () => {
    const ids = styles.list().map((s) => s.id);
    for (const id of ['headshot', 'studio', 'bw', 'renaissance', 'watercolour', 'noir', 'vintage-1950s', 'young-again', 'fantasy', 'memorial']) expect(ids).toContain(id);
    expect(ids.length).toBeGreaterThanOrEqual(12);
    for (const s of styles.list()) {
      expect(s.prompt).toContain('{subject}');
      expect(s.negativePrompt.length).toBeGreaterThan(0);
      expect(s.identityStrength).toBeGreaterThan(0);
      expect(s.identityStep).toBeGreaterThan(0);
    }
  });

  it('words prompts per subject: a memorial is gentle and speaks of the person as they were in life', () => {
    const fantasy = styles.get('fantasy')!;
    expect(renderPrompt(fantasy, 'me')).toContain('ornate armour');
    const memorial = renderPrompt(fantasy, 'memorial');
    expect(memorial).toContain('as they were in life');
    expect(memorial).not.toContain('armour');
    expect(memorial).toContain('dignified and respectful');
    expect(renderNegativePrompt(fantasy, 'memorial')).toContain('zombie');
    expect(renderNegativePrompt(fantasy, 'me')).not.toContain('zombie');
    expect(renderPrompt(styles.get('young-again')!, 'memorial')).toContain('in their youth');
    expect(renderPrompt(styles.get('studio')!, 'someone')).toContain('respectful, flattering likeness');
    expect(renderPrompt(styles.get('studio')!, 'me', 'in a garden')).toMatch(/, in a garden$/);
  });

  it('states identity more firmly as its strength rises; "not them" steps come from the style', () => {
    expect(identityPhrase(0.5)).toBe('');
    expect(identityPhrase(0.7)).toContain('recognisable');
    expect(identityPhrase(0.85)).toContain('exactly the same person');
    expect(identityPhrase(1)).toContain('do not beautify');
    expect(renderPrompt(styles.get('studio')!, 'me', undefined, 0.95)).toContain('keep the face identical');
    expect(strongerIdentity(styles.get('studio'), 0.7)).toBeCloseTo(0.85);
    expect(strongerIdentity(styles.get('memorial'), 0.9)).toBeCloseTo(1);
    expect(strongerIdentity(styles.get('memorial'), 0.95)).toBe(1);
    expect(strongerIdentity(undefined, 0.5)).toBeCloseTo(0.65);
  });

  it('STYLES_FILE problems are a ConfigError naming the variable', async () => {
    const file = join(tmpdir(), `styles-bad-${Date.now()}.json`);
    await writeFile(file, JSON.stringify([{ id: 'Bad Id', label: '', prompt: 'x' }]));
    expect(() => createStyleCatalog(file)).toThrow(ConfigError);
    try {
      createStyleCatalog(file);
    } catch (e) {
      expect((e as ConfigError).problems.every((p) => p.startsWith('STYLES_FILE: '))).toBe(true);
      expect((e as ConfigError).problems.length).toBeGreaterThanOrEqual(3);
    }
  });
});

describe('model catalog', () => {
  const catalog = createModelCatalog(undefined, styles);

  it('builds inputs from templates: typed placeholders, text, scaled values, and left-out unknowns', () => {
    const a = new ImageInput(Buffer.from('a'));
    const b = new ImageInput(Buffer.from('b'));
    const input = buildInput(
      { prompt: 'a photo, {{prompt}}', images: '{{photos}}', seed: '{{seed}}', weight: { $scale: 'identity_strength', to: [0.5, 1.5] }, fixed: 3, missing: '{{nothing}}', nested: { image: '{{photo}}' } },
      { prompt: 'smiling', photos: [a, b], photo: a, seed: 42, identity_strength: 0.8 },
    );
    expect(input).toEqual({ prompt: 'a photo, smiling', images: [a, b], seed: 42, weight: 1.3, fixed: 3, nested: { image: a } });
  });

  it('defaults follow the published schemas', () => {
    expect(catalog.modelsFor('portrait')).toEqual(['black-forest-labs/flux-2-pro', 'black-forest-labs/flux-kontext-pro', 'black-forest-labs/flux-kontext-dev']);
    expect(catalog.modelsFor('portrait', 'black-forest-labs/flux-kontext-pro')[0]).toBe('black-forest-labs/flux-kontext-pro');
    expect(catalog.get('black-forest-labs/flux-2-pro')).toMatchObject({ maxPhotos: 8, input: { input_images: '{{photos}}' } });
    expect(catalog.get('black-forest-labs/flux-kontext-pro')).toMatchObject({ maxPhotos: 1, input: { input_image: '{{photo}}', aspect_ratio: '4:5', seed: '{{seed}}' } });
    expect(catalog.get('sczhou/codeformer')!.input).toMatchObject({ image: '{{image}}', codeformer_fidelity: '{{fidelity}}', background_enhance: true, face_upsample: true, upscale: 2 });
    expect(catalog.get('piddnad/ddcolor')!.input).toMatchObject({ image: '{{image}}', model_size: 'large' });
    expect(catalog.get('nightmareai/real-esrgan')!.input).toMatchObject({ image: '{{image}}', scale: 4, face_enhance: false });
    expect(catalog.costOf(catalog.get('nightmareai/real-esrgan')!, 10, 1)).toBeCloseTo(10 * 0.000225);
    expect(catalog.costOf(catalog.get('black-forest-labs/flux-2-pro')!, 10, 1)).toBeCloseTo(0.03);
  });

  it('finds output files wherever the model puts them', () => {
    expect(outputFiles('https://x/a.png')).toEqual(['https://x/a.png']);
    expect(outputFiles(['https://x/a.png', 'data:image/png;base64,AA=='])).toHaveLength(2);
    expect(outputFiles({ images: ['https://x/1.png'], seed: 3, text: 'hello' }, 'images')).toEqual(['https://x/1.png']);
    expect(outputFiles(null)).toEqual([]);
  });

  it('plans variant calls: one per image, or batched with consecutive seeds', () => {
    expect(planCalls(4, 10, 1)).toEqual([10, 11, 12, 13].map((seed) => ({ seed, count: 1 })));
    expect(planCalls(4, 10, 4)).toEqual([{ seed: 10, count: 4 }]);
    expect(planCalls(4, 2 ** 31 - 1, 3)).toEqual([
      { seed: 2 ** 31 - 1, count: 3 },
      { seed: 2, count: 1 },
    ]);
  });
});

describe('GPU configuration', () => {
  it('parses tagged Cog endpoints, prices and timings, and names every bad GPU variable', () => {
    const config = loadConfig({ GPU_BACKEND: 'cog', COG_ENDPOINTS: 'http://gpu-1:5000, sczhou/codeformer=http://gpu-2:5000/', COG_PRICE_PER_GPU_HOUR: '1.2', GPU_TIMEOUT_MS: '90000' });
    expect(config.gpu).toMatchObject({
      cogEndpoints: [{ url: 'http://gpu-1:5000' }, { url: 'http://gpu-2:5000', model: 'sczhou/codeformer' }],
      cogPricePerGpuHour: 1.2,
      timeoutMs: 90_000,
      pollIntervalMs: 1_000,
    });
    try {
      loadConfig({ COG_ENDPOINTS: 'gpu-1:5000', COG_PRICE_PER_GPU_HOUR: '-1', GPU_POLL_INTERVAL_MS: 'often', GPU_HTTP_RETRIES: '-2' });
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).problems.map((p) => p.split(/[.:]/)[0]).sort()).toEqual(['COG_ENDPOINTS', 'COG_PRICE_PER_GPU_HOUR', 'GPU_HTTP_RETRIES', 'GPU_POLL_INTERVAL_MS']);
    }
  });

  it('builds the replicate and cog backends from config, time-limited', () => {
    const replicate = createGpuBackend(loadConfig({ GPU_BACKEND: 'replicate', REPLICATE_API_TOKEN: 'r8_x' }).gpu);
    expect(replicate.name).toBe('replicate');
    const cog = createGpuBackend(loadConfig({ GPU_BACKEND: 'cog', COG_ENDPOINTS: 'http://127.0.0.1:1' }).gpu);
    expect(cog.name).toBe('cog');
  });
});

describe('HTTP retries', () => {
  it('reads Retry-After as seconds or as a date', () => {
    expect(retryAfterMs('3')).toBe(3_000);
    expect(retryAfterMs('0.5')).toBe(500);
    expect(retryAfterMs(new Date(Date.now() + 10_000).toUTCString())).toBeGreaterThan(8_000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
  });

  it('retries 429/5xx with back-off, never 4xx; a request in flight is let finish when the caller aborts', async () => {
    const statuses = [503, 429, 200];
    const calls: number[] = [];
    const clock = virtualClock();
    const fetcher = createRetryingFetch(
      { retries: 3, baseDelayMs: 100, maxDelayMs: 10_000, timeoutMs: 1_000 },
      {
        clock,
        fetch: async () => {
          calls.push(clock.now());
          const status = statuses.shift()!;
          return new Response(null, { status, headers: status === 429 ? { 'retry-after': '2' } : {} });
        },
      },
    );
    expect((await fetcher('http://x/', {})).status).toBe(200);
    expect(calls.map((c) => c - calls[0]!)).toEqual([0, 100, 2_100]);

    const refused = createRetryingFetch({ retries: 3, baseDelayMs: 1, maxDelayMs: 10, timeoutMs: 1_000 }, { fetch: async () => new Response('{}', { status: 422 }) });
    expect((await refused('http://x/', {})).status).toBe(422);

    const controller = new AbortController();
    const slow = createRetryingFetch(
      { retries: 3, baseDelayMs: 1, maxDelayMs: 10, timeoutMs: 1_000 },
      {
        fetch: async () => {
          controller.abort(new Error('stop'));
          await new Promise((r) => setTimeout(r, 20));
          return new Response('created', { status: 201 });
        },
      },
    );
    expect((await slow('http://x/', { signal: controller.signal })).status).toBe(201);
  });
});
