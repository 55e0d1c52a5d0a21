/**
 * A fake Cog container on loopback speaking Cog's HTTP API: `GET /health-check`,
 * synchronous `POST /predictions` and idempotent `PUT /predictions/<id>` with `{ input }`, and
 * `POST /predictions/<id>/cancel`. Like Cog it runs one prediction at a time (409 otherwise), keeps
 * running a prediction whose client went away, and returns file outputs as data URIs.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';

export interface FakeCogOptions {
  /** How long each prediction runs (real ms). */
  serviceMs?: number;
  /** `metrics.predict_time` reported (default: the real run time). */
  predictTime?: number;
  /** Output image bytes for an input (default: a small PNG; with `image` in the input, that image scaled by `scale`). */
  render?: (input: Record<string, unknown>) => Promise<Buffer>;
  /** Input keys accepted; others get a 422 (default: anything). */
  keys?: string[];
}

export interface FakeCog {
  url: string;
  /** Predictions started, in order. */
  started: Array<{ id: string; input: Record<string, unknown>; at: number }>;
  /** Prediction ids cancelled. */
  cancelled: string[];
  healthChecks: number;
  /** Most predictions running at once (Cog's contract: 1). */
  maxConcurrent: number;
  /** Total ms spent running predictions, and the intervals, for utilisation figures. */
  busyMs: number;
  intervals: Array<[number, number]>;
  /** Unreachable: every request's connection is dropped. */
  setDown(down: boolean): void;
  /** What the health check says when idle (default READY). */
  setHealth(status: string): void;
  /** The next `times` prediction requests answer `status` (e.g. 500, 409, 422) or end `failed` with `error`. */
  failNext(failure: { status?: number; error?: string; times?: number }): void;
  setServiceMs(ms: number): void;
  /** Back to healthy, up, no injected failures, the original service time. */
  reset(): void;
  close(): Promise<void>;
}

const TINY = sharp({ create: { width: 64, height: 80, channels: 3, background: { r: 120, g: 90, b: 60 } } })
  .png()
  .toBuffer();

async function defaultRender(input: Record<string, unknown>): Promise<Buffer> {
  const image = typeof input.image === 'string' && input.image.startsWith('data:') ? Buffer.from(input.image.slice(input.image.indexOf(',') + 1), 'base64') : undefined;
  if (!image) return TINY;
  const { width = 64 } = await sharp(image).metadata();
  return sharp(image)
    .resize({ width: Math.round(width * Number(input.scale ?? input.upscale ?? 1)) })
    .png()
    .toBuffer();
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

const send = (res: ServerResponse, status: number, body: unknown) => {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

export async function startFakeCog(options: FakeCogOptions = {}): Promise<FakeCog> {
  let serviceMs = options.serviceMs ?? 20;
  let down = false;
  let health = 'READY';
  const failures: Array<{ status?: number; error?: string; left: number }> = [];
  let running: { id: string; done: Promise<Record<string, unknown>>; cancel: () => void } | undefined;
  let concurrent = 0;

  const fake: FakeCog = {
    url: '',
    started: [],
    cancelled: [],
    healthChecks: 0,
    maxConcurrent: 0,
    busyMs: 0,
    intervals: [],
    setDown: (d) => {
      down = d;
    },
    setHealth: (s) => {
      health = s;
    },
    failNext: (f) => failures.push({ ...f, left: f.times ?? 1 }),
    setServiceMs: (ms) => {
      serviceMs = ms;
    },
    reset: () => {
      serviceMs = options.serviceMs ?? 20;
      down = false;
      health = 'READY';
      failures.length = 0;
    },
    close: async () => {
      running?.cancel();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const start = (id: string, input: Record<string, unknown>, failWith?: string) => {
    const begun = performance.now();
    fake.started.push({ id, input, at: begun });
    concurrent += 1;
    fake.maxConcurrent = Math.max(fake.maxConcurrent, concurrent);
    let cancel = () => undefined as void;
    const done = new Promise<Record<string, unknown>>((resolve) => {
      const finish = (status: string, extra: Record<string, unknown>) => {
        const ended = performance.now();
        concurrent -= 1;
        fake.busyMs += ended - begun;
        fake.intervals.push([begun, ended]);
        running = undefined;
        resolve({ id, input, status, metrics: { predict_time: options.predictTime ?? (ended - begun) / 1000 }, logs: '', ...extra });
      };
      const timer = setTimeout(() => {
        if (failWith) return finish('failed', { error: failWith, output: null });
        const render = options.render ?? defaultRender;
        render(input).then(
          (bytes) => finish('succeeded', { output: `data:image/png;base64,${bytes.toString('base64')}`, error: null }),
          (error: unknown) => finish('failed', { error: String(error), output: null }),
        );
      }, serviceMs);
      cancel = () => {
        clearTimeout(timer);
        finish('canceled', { output: null, error: null });
      };
    });
    running = { id, done, cancel };
    return done;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (down) {
      req.socket.destroy();
      return;
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'GET' && path === '/health-check') {
      fake.healthChecks += 1;
      return send(res, 200, { status: running ? 'BUSY' : health, setup: { status: 'succeeded' } });
    }
    const cancel = /^\/predictions\/([^/]+)\/cancel$/.exec(path);
    if (req.method === 'POST' && cancel) {
      fake.cancelled.push(cancel[1]!);
      if (!running || running.id !== cancel[1]) return send(res, 404, { detail: 'Not found' });
      running.cancel();
      return send(res, 200, {});
    }
    const put = /^\/predictions\/([^/]+)$/.exec(path);
    if ((req.method === 'PUT' && put) || (req.method === 'POST' && path === '/predictions')) {
      const body = (await readJson(req)) as { input?: Record<string, unknown>; id?: string } | undefined;
      const id = put ? put[1]! : (body?.id ?? `p${fake.started.length}`);
      if (health !== 'READY') return send(res, 503, { detail: `not ready: ${health}` });
      // Idempotent: the same id while it runs gets the same prediction.
      if (running && running.id === id) return send(res, 200, await running.done);
      if (running) return send(res, 409, { detail: 'Already running a prediction' });
      const input = body?.input;
      if (!input || typeof input !== 'object') return send(res, 422, { detail: [{ loc: ['body', 'input'], msg: 'field required', type: 'value_error.missing' }] });
      if (options.keys) {
        const unknown = Object.keys(input).filter((k) => !options.keys!.includes(k));
        if (unknown.length > 0) return send(res, 422, { detail: unknown.map((k) => ({ loc: ['body', 'input', k], msg: 'extra fields not permitted', type: 'value_error.extra' })) });
      }
      const failure = failures.find((f) => f.left > 0);
      if (failure) {
        failure.left -= 1;
        if (failure.status) return send(res, failure.status, { detail: `injected ${failure.status}` });
      }
      const result = await start(id, input, failure?.error);
      return send(res, 200, result);
    }
    return send(res, 404, { detail: 'Not found' });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => send(res, 500, { detail: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
