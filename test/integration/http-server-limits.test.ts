/**
 * The HTTP server's own limits, over raw loopback sockets: a client that sends its headers a
 * byte at a time is dropped soon after the headers timeout (not the ~45 s node's 30 s check
 * interval allowed), and connections past the cap are closed as soon as they are accepted.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer, respond, type HttpServer, type HttpServerLimits } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';

const servers: HttpServer[] = [];
const sockets: Socket[] = [];

async function serve(limits: HttpServerLimits): Promise<number> {
  const http = createHttpServer({ logger: createLogger({ level: 'silent' }), limits });
  http.route('GET', '/healthz', (_req, res) => respond(res, 200, 'ok'));
  servers.push(http);
  return http.listen(0, '127.0.0.1');
}

async function open(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  sockets.push(socket);
  await once(socket, 'connect');
  return socket;
}

/** Milliseconds until the server closes `socket`, or undefined if it is still open after `withinMs`. */
const closedAfter = (socket: Socket, withinMs: number): Promise<number | undefined> => {
  const started = performance.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), withinMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - started);
    });
    socket.resume(); // read (and drop) whatever the server sends, so its 'end' arrives
  });
};

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((http) => http.close()));
});

describe('HTTP server limits', () => {
  it('drops a client that sends its headers too slowly, within about the headers timeout', async () => {
    const port = await serve({ headersTimeoutMs: 300 });
    const socket = await open(port);
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => socket.writable && socket.write('X'), 50);
    try {
      const ms = await closedAfter(socket, 3_000);
      expect(ms, 'still connected after 3 s').toBeDefined();
      expect(ms!).toBeLessThan(1_500);
    } finally {
      clearInterval(drip);
    }
  });

  it('closes connections past the cap at once, and serves the ones it holds', async () => {
    const port = await serve({ maxConnections: 2 });
    const held = [await open(port), await open(port)];
    const extra = await open(port);
    expect(await closedAfter(extra, 2_000), 'the third connection was kept').toBeDefined();

    held[0]!.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const [answer] = (await once(held[0]!, 'data')) as [Buffer];
    expect(answer.toString()).toMatch(/^HTTP\/1\.1 200 OK/);
  });
});
