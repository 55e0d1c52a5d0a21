/**
 * A fake of Replicate's HTTP API on loopback, close enough that the real `replicate` client drives
 * it: files (multipart upload, signed download URL, delete), model and version predictions with
 * input validation (422 problem+json), polling, cancel, and outputs on a delivery host that expire.
 * Time comes from a clock the test controls, so "still processing after 60 s" takes no real minute.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import sharp from 'sharp';
import type { Clock } from '../../src/gpu/clock.js';

export const FAKE_TOKEN = 'r8_fakeTokenForTests0123456789abcdef';

/** A clock whose sleeps advance it at once: polling a minute-long prediction takes milliseconds. */
export function virtualClock(start = Date.parse('2025-06-01T12:00:00Z')): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
    async sleep(ms, signal) {
      signal?.throwIfAborted();
      now += ms;
      await yieldToLoop();
      signal?.throwIfAborted();
    },
  };
}

export interface FakeModel {
  /** Version id for community models (run with `version`); official models run by name. */
  version?: string;
  /** Input keys the schema knows; others are refused with 422. */
  keys: string[];
  /** Problems with an input (each becomes an invalid field of the 422). */
  validate(input: Record<string, unknown>): string[];
  /** The output images for an input; `images` are the resolved input images by key. */
  render(input: Record<string, unknown>, images: Map<string, Buffer[]>): Promise<Array<{ bytes: Buffer; ext: string }>>;
  /** Whether the output is a list (many outputs) or one URL. */
  listOutput?: boolean;
}

export interface Injection {
  method?: string;
  /** Matched against the path (after the host). */
  path: RegExp;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** How many requests it answers (default 1). */
  times?: number;
  /** Drop the connection instead of answering. */
  network?: boolean;
}

export interface FakePrediction {
  id: string;
  model: string;
  version: string;
  input: Record<string, unknown>;
  createdAt: number;
  startedAt?: number;
  completedAt?: number;
  status: 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';
  output?: unknown;
  error?: string;
  /** Clock ms it stays `starting`, then `processing`. */
  startMs: number;
  runMs: number;
  /** A fixed outcome instead of the model's output. */
  fail?: string;
  predictTime: number;
  outputs: Array<{ name: string; bytes: Buffer; contentType: string }>;
}

export interface FakeReplicateOptions {
  token?: string;
  /** The clock predictions age on (default: real time). */
  clock?: Pick<Clock, 'now'>;
  /** Clock ms a prediction stays `starting` (default 0) and then `processing` (default 0). */
  startMs?: number;
  runMs?: number;
  /** Reported `metrics.predict_time` in seconds (default: runMs / 1000, at least 1.5). */
  predictTime?: number;
  /** Clock ms an output stays downloadable after the prediction completes (default: an hour, like Replicate). */
  outputTtlMs?: number;
  /** Output images' size (default 256 x 320). */
  outputSize?: { width: number; height: number };
}

export interface FakeReplicate {
  /** The API root to give the client as `baseUrl`. */
  url: string;
  origin: string;
  requests: Array<{ method: string; path: string; authorized: boolean; body?: unknown }>;
  predictions: Map<string, FakePrediction>;
  files: Map<string, { bytes: Buffer; contentType: string; name: string }>;
  deletedFiles: string[];
  cancelled: string[];
  models: Map<string, FakeModel>;
  inject(injection: Injection): void;
  /** The next predictions (of `model`, or any) end `failed` with this error. */
  failPredictions(error: string, options?: { model?: string; times?: number }): void;
  /** Changes timing for predictions created from now on. */
  setTiming(timing: { startMs?: number; runMs?: number; predictTime?: number }): void;
  /** Clears injected faults and failures, restores the original timing, and forgets what was seen. */
  reset(): void;
  creates(model?: string): Array<{ path: string; body: { input: Record<string, unknown> } }>;
  close(): Promise<void>;
}

const lengthOf = (v: unknown) => (Array.isArray(v) ? v.length : 0);
const isFileRef = (v: unknown) => typeof v === 'string' && /^(https?:\/\/|data:)/.test(v);

function checkKeys(input: Record<string, unknown>, keys: string[]): string[] {
  return Object.keys(input)
    .filter((k) => !keys.includes(k))
    .map((k) => `input.${k}: Additional property ${k} is not allowed`);
}

async function solid(width: number, height: number, seed: number, format: 'jpg' | 'png' | 'webp'): Promise<{ bytes: Buffer; ext: string }> {
  const colour = { r: (seed * 67) % 256, g: (seed * 131) % 256, b: (seed * 29) % 256 };
  const image = sharp({ create: { width, height, channels: 3, background: colour } });
  const bytes = await (format === 'jpg' ? image.jpeg() : format === 'webp' ? image.webp() : image.png()).toBuffer();
  return { bytes, ext: format };
}

async function scaled(image: Buffer | undefined, factor: number): Promise<{ bytes: Buffer; ext: string }> {
  const meta = await sharp(image).metadata();
  const width = Math.round((meta.width ?? 64) * factor);
  return { bytes: await sharp(image).resize({ width }).png().toBuffer(), ext: 'png' };
}

/** The models of the built-in catalog, with the inputs their published schemas take. */
export function defaultModels(size: { width: number; height: number }): Map<string, FakeModel> {
  const flux2: FakeModel = {
    keys: ['prompt', 'input_images', 'aspect_ratio', 'resolution', 'width', 'height', 'safety_tolerance', 'seed', 'output_format', 'output_quality'],
    validate: (i) => [
      ...(typeof i.prompt === 'string' && i.prompt ? [] : ['input.prompt: prompt is required']),
      ...(i.input_images === undefined || (Array.isArray(i.input_images) && i.input_images.every(isFileRef)) ? [] : ['input.input_images: Invalid type. Expected: array of uri']),
      ...(lengthOf(i.input_images) <= 8 ? [] : ['input.input_images: Array must have at most 8 items']),
      ...(i.seed === undefined || Number.isInteger(i.seed) ? [] : ['input.seed: Invalid type. Expected: integer']),
    ],
    render: async (i) => [await solid(size.width, size.height, Number(i.seed ?? 0), i.output_format === 'jpg' ? 'jpg' : i.output_format === 'png' ? 'png' : 'webp')],
  };
  const kontext: FakeModel = {
    keys: ['prompt', 'input_image', 'aspect_ratio', 'seed', 'output_format', 'output_quality', 'safety_tolerance', 'prompt_upsampling'],
    validate: (i) => [
      ...(typeof i.prompt === 'string' && i.prompt ? [] : ['input.prompt: prompt is required']),
      ...(i.input_image === undefined || isFileRef(i.input_image) ? [] : ['input.input_image: Invalid type. Expected: uri']),
    ],
    render: async (i) => [await solid(size.width, size.height, Number(i.seed ?? 0), i.output_format === 'jpg' ? 'jpg' : 'png')],
  };
  return new Map<string, FakeModel>([
    ['black-forest-labs/flux-2-pro', flux2],
    ['black-forest-labs/flux-kontext-pro', kontext],
    ['black-forest-labs/flux-kontext-dev', kontext],
    [
      'sczhou/codeformer',
      {
        version: '7de2ea26c616d5bf2245ad0d5e24f0ff9a6204578a5c876db53142edd9d2cd56',
        keys: ['image', 'codeformer_fidelity', 'background_enhance', 'face_upsample', 'upscale'],
        validate: (i) => [
          ...(isFileRef(i.image) ? [] : ['input.image: image is required']),
          ...(i.codeformer_fidelity === undefined || (typeof i.codeformer_fidelity === 'number' && i.codeformer_fidelity >= 0 && i.codeformer_fidelity <= 1) ? [] : ['input.codeformer_fidelity: Must be between 0 and 1']),
        ],
        render: async (i, images) => [await scaled(images.get('image')?.[0], Number(i.upscale ?? 2))],
      },
    ],
    [
      'piddnad/ddcolor',
      {
        version: 'ca494ba129e44e45f661d6ece83c4c98a9a7c774309beca01429b58fce8aa695',
        keys: ['image', 'model_size'],
        validate: (i) => [...(isFileRef(i.image) ? [] : ['input.image: image is required']), ...(i.model_size === undefined || ['large', 'tiny'].includes(String(i.model_size)) ? [] : ['input.model_size: must be one of large, tiny'])],
        render: async (_i, images) => [await scaled(images.get('image')?.[0], 1)],
      },
    ],
    [
      'nightmareai/real-esrgan',
      {
        version: 'f121d640bd286e1fdc67f9799164c1d5be36ff74576ee11c803ae5b665dd46aa',
        keys: ['image', 'scale', 'face_enhance'],
        validate: (i) => [...(isFileRef(i.image) ? [] : ['input.image: image is required']), ...(i.scale === undefined || (typeof i.scale === 'number' && i.scale > 0 && i.scale <= 10) ? [] : ['input.scale: Must be between 0 and 10'])],
        render: async (i, images) => [await scaled(images.get('image')?.[0], Number(i.scale ?? 4))],
      },
    ],
  ]);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers }).end(text);
}

export async function startFakeReplicate(options: FakeReplicateOptions = {}): Promise<FakeReplicate> {
  const token = options.token ?? FAKE_TOKEN;
  const clock = options.clock ?? { now: () => Date.now() };
  const size = options.outputSize ?? { width: 256, height: 320 };
  let timing = { startMs: options.startMs ?? 0, runMs: options.runMs ?? 0, predictTime: options.predictTime };
  const ttl = options.outputTtlMs ?? 3_600_000;
  const injections: Array<Injection & { left: number }> = [];
  const failures: Array<{ error: string; model?: string; left: number }> = [];
  let origin = '';

  const fake: FakeReplicate = {
    url: '',
    origin: '',
    requests: [],
    predictions: new Map(),
    files: new Map(),
    deletedFiles: [],
    cancelled: [],
    models: defaultModels(size),
    inject: (injection) => injections.push({ ...injection, left: injection.times ?? 1 }),
    failPredictions: (error, o = {}) => failures.push({ error, model: o.model, left: o.times ?? 1 }),
    setTiming: (t) => {
      timing = { ...timing, ...t };
    },
    reset: () => {
      injections.length = 0;
      failures.length = 0;
      fake.requests.length = 0;
      fake.predictions.clear();
      fake.cancelled.length = 0;
      fake.deletedFiles.length = 0;
      timing = { startMs: options.startMs ?? 0, runMs: options.runMs ?? 0, predictTime: options.predictTime };
    },
    creates: (model) =>
      fake.requests
        .filter((r) => r.method === 'POST' && (/^\/v1\/models\/[^/]+\/[^/]+\/predictions$/.test(r.path) || r.path === '/v1/predictions'))
        .filter((r) => {
          const version = model ? fake.models.get(model)?.version : undefined;
          return !model || r.path === `/v1/models/${model}/predictions` || (version !== undefined && (r.body as { version?: string }).version === version);
        })
        .map((r) => ({ path: r.path, body: r.body as { input: Record<string, unknown> } })),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const iso = (ms?: number) => (ms === undefined ? undefined : new Date(ms).toISOString());

  const view = (p: FakePrediction) => ({
    id: p.id,
    model: p.model,
    version: p.version,
    input: p.input,
    logs: p.status === 'starting' ? '' : 'Running prediction...\n',
    output: p.status === 'succeeded' ? p.output : null,
    data_removed: false,
    error: p.error ?? null,
    source: 'api',
    status: p.status,
    created_at: iso(p.createdAt),
    started_at: iso(p.startedAt),
    completed_at: iso(p.completedAt),
    metrics: p.status === 'succeeded' ? { predict_time: p.predictTime, total_time: (p.completedAt! - p.createdAt) / 1000 } : {},
    urls: { cancel: `${fake.url}/predictions/${p.id}/cancel`, get: `${fake.url}/predictions/${p.id}`, web: `https://replicate.com/p/${p.id}` },
  });

  /** Input images the fake can see: its own uploaded files and data URIs. */
  const resolveInputImages = (input: Record<string, unknown>): Map<string, Buffer[]> => {
    const out = new Map<string, Buffer[]>();
    for (const [key, value] of Object.entries(input)) {
      const refs = Array.isArray(value) ? value : [value];
      const images = refs.flatMap((ref) => {
        if (typeof ref !== 'string') return [];
        if (ref.startsWith('data:')) return [Buffer.from(ref.slice(ref.indexOf(',') + 1), 'base64')];
        const file = /\/files\/([^/]+)\/download/.exec(ref);
        const stored = file ? fake.files.get(file[1]!) : undefined;
        return stored ? [stored.bytes] : [];
      });
      if (images.length > 0) out.set(key, images);
    }
    return out;
  };

  /** Moves a prediction along by the clock; renders its outputs the first time it is seen done. */
  const advance = async (p: FakePrediction): Promise<void> => {
    if (p.status === 'succeeded' || p.status === 'failed' || p.status === 'canceled') return;
    const elapsed = clock.now() - p.createdAt;
    if (elapsed < p.startMs) return;
    p.startedAt ??= p.createdAt + p.startMs;
    p.status = 'processing';
    if (elapsed < p.startMs + p.runMs) return;
    p.completedAt = p.createdAt + p.startMs + p.runMs;
    if (p.fail) {
      p.status = 'failed';
      p.error = p.fail;
      return;
    }
    const model = fake.models.get(p.model)!;
    const rendered = await model.render(p.input, resolveInputImages(p.input));
    p.outputs = rendered.map((r, i) => ({ name: `out-${i}.${r.ext}`, bytes: r.bytes, contentType: r.ext === 'jpg' ? 'image/jpeg' : `image/${r.ext}` }));
    const urls = p.outputs.map((o) => `${origin}/delivery/${p.id}/${o.name}`);
    p.output = model.listOutput || urls.length > 1 ? urls : urls[0];
    p.status = 'succeeded';
  };

  const createPrediction = (res: ServerResponse, modelId: string, versionId: string, body: { input?: unknown }) => {
    const model = fake.models.get(modelId);
    if (!model) return send(res, 404, { title: 'Not found', detail: 'The requested resource could not be found.', status: 404 });
    const input = (body.input ?? {}) as Record<string, unknown>;
    const problems = [...checkKeys(input, model.keys), ...model.validate(input)];
    if (problems.length > 0) {
      return send(res, 422, {
        title: 'Input validation failed',
        detail: problems.map((p) => `- ${p}`).join('\n'),
        status: 422,
        invalid_fields: problems.map((p) => ({ type: 'invalid', field: p.split(':')[0], description: p })),
      });
    }
    const failure = failures.find((f) => f.left > 0 && (!f.model || f.model === modelId));
    if (failure) failure.left -= 1;
    const p: FakePrediction = {
      id: randomBytes(13).toString('hex').slice(0, 26),
      model: modelId,
      version: versionId,
      input,
      createdAt: clock.now(),
      status: 'starting',
      startMs: timing.startMs,
      runMs: timing.runMs,
      fail: failure?.error,
      predictTime: timing.predictTime ?? Math.max(1.5, timing.runMs / 1000),
      outputs: [],
    };
    fake.predictions.set(p.id, p);
    return send(res, 201, view(p));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const raw = await readBody(req);
    const contentType = req.headers['content-type'] ?? '';
    let body: unknown;
    if (contentType.startsWith('application/json') && raw.length > 0) body = JSON.parse(raw.toString('utf8'));
    else if (contentType.startsWith('multipart/form-data')) body = { multipart: true };
    const authorized = req.headers.authorization === `Bearer ${token}`;
    fake.requests.push({ method, path: path + url.search, authorized, body });

    // The delivery host: no auth, outputs expire.
    const delivery = /^\/delivery\/([^/]+)\/([^/]+)$/.exec(path);
    if (delivery && method === 'GET') {
      const p = fake.predictions.get(delivery[1]!);
      const out = p?.outputs.find((o) => o.name === delivery[2]);
      if (!p || !out || clock.now() > p.completedAt! + ttl) return send(res, 404, { detail: 'Not found' });
      res.writeHead(200, { 'content-type': out.contentType, 'content-length': out.bytes.byteLength }).end(out.bytes);
      return;
    }
    const fileDownload = /^\/v1\/files\/([^/]+)\/download$/.exec(path);
    if (fileDownload && method === 'GET') {
      const file = fake.files.get(fileDownload[1]!);
      if (!file || !url.searchParams.get('signature')) return send(res, 404, { detail: 'Not found' });
      res.writeHead(200, { 'content-type': file.contentType }).end(file.bytes);
      return;
    }

    if (!authorized) return send(res, 401, { title: 'Unauthenticated', detail: 'You did not pass a valid authentication token', status: 401 });
    const injection = injections.find((i) => i.left > 0 && (!i.method || i.method === method) && i.path.test(path));
    if (injection) {
      injection.left -= 1;
      if (injection.network) {
        req.socket.destroy();
        return;
      }
      return send(res, injection.status, injection.body ?? { title: 'Injected', detail: `injected ${injection.status}`, status: injection.status }, injection.headers);
    }

    if (path === '/v1/files' && method === 'POST') {
      const form = await new Response(raw, { headers: { 'content-type': contentType } }).formData();
      const content = form.get('content');
      if (!(content instanceof Blob)) return send(res, 422, { title: 'Invalid', detail: 'content is required', status: 422 });
      const bytes = Buffer.from(await content.arrayBuffer());
      const id = randomBytes(12).toString('hex');
      const name = content instanceof File ? content.name : 'blob';
      fake.files.set(id, { bytes, contentType: content.type || 'application/octet-stream', name });
      const created = clock.now();
      return send(res, 201, {
        id,
        name,
        content_type: content.type,
        size: bytes.byteLength,
        etag: createHash('md5').update(bytes).digest('hex'),
        checksums: { sha256: createHash('sha256').update(bytes).digest('hex'), md5: createHash('md5').update(bytes).digest('hex') },
        metadata: {},
        created_at: iso(created),
        expires_at: iso(created + 24 * 3600_000),
        urls: { get: `${fake.url}/files/${id}/download?expiry=${Math.floor(created / 1000) + 3600}&owner=likeness&signature=${randomBytes(8).toString('hex')}` },
      });
    }
    const fileId = /^\/v1\/files\/([^/]+)$/.exec(path);
    if (fileId && method === 'DELETE') {
      fake.deletedFiles.push(fileId[1]!);
      fake.files.delete(fileId[1]!);
      return send(res, 204);
    }
    const modelPredictions = /^\/v1\/models\/([^/]+\/[^/]+)\/predictions$/.exec(path);
    if (modelPredictions && method === 'POST') {
      const modelId = modelPredictions[1]!;
      if (fake.models.get(modelId)?.version) {
        return send(res, 404, { title: 'Not found', detail: 'Model is not an official model; run it with a version.', status: 404 });
      }
      return createPrediction(res, modelId, 'hidden', (body ?? {}) as { input?: unknown });
    }
    if (path === '/v1/predictions' && method === 'POST') {
      const version = String((body as { version?: unknown } | undefined)?.version ?? '');
      const found = [...fake.models.entries()].find(([, m]) => m.version && (version === m.version || version.endsWith(`:${m.version}`)));
      if (!found) return send(res, 422, { title: 'Invalid version', detail: 'Invalid version or not permitted', status: 422 });
      return createPrediction(res, found[0], found[1].version!, (body ?? {}) as { input?: unknown });
    }
    const prediction = /^\/v1\/predictions\/([^/]+)(\/cancel)?$/.exec(path);
    if (prediction) {
      const p = fake.predictions.get(prediction[1]!);
      if (!p) return send(res, 404, { title: 'Not found', detail: 'Not found.', status: 404 });
      if (prediction[2] && method === 'POST') {
        fake.cancelled.push(p.id);
        await advance(p);
        if (p.status === 'starting' || p.status === 'processing') {
          p.status = 'canceled';
          p.completedAt = clock.now();
        }
        return send(res, 200, view(p));
      }
      if (!prediction[2] && method === 'GET') {
        await advance(p);
        return send(res, 200, view(p));
      }
    }
    return send(res, 404, { title: 'Not found', detail: `no route for ${method} ${path}`, status: 404 });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { title: 'Fake failed', detail: String(error), status: 500 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.origin = origin;
  fake.url = `${origin}/v1`;
  return fake;
}
