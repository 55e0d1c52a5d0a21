import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isStaleInteraction, safeDiscordError } from '../../src/bots/discord/discord-errors.js';
import { createInteractionCallbackPoster, type InteractionCallbackPoster } from '../../src/bots/discord/interaction-callback.js';

const TOKEN = 'aW50ZXJhY3Rpb246c2VjcmV0LXRva2Vu';

interface Seen {
  path: string;
  body: unknown;
  headers: IncomingMessage['headers'];
}

/** A loopback Discord REST that answers each callback with `answer(n)`, n counting from 0. */
async function callbackServer(answer: (n: number, req: IncomingMessage, res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const sockets = new Set<unknown>();
  let open = 0;
  let peakOpen = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')), headers: req.headers });
      answer(seen.length - 1, req, res);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    open += 1;
    peakOpen = Math.max(peakOpen, open);
    socket.on('close', () => (open -= 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    apiBase: `http://127.0.0.1:${port}/api`,
    seen,
    connections: () => sockets.size,
    peakOpen: () => peakOpen,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const discordError = (res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

describe('interaction callbacks', () => {
  let server: Awaited<ReturnType<typeof callbackServer>> | undefined;
  let poster: InteractionCallbackPoster | undefined;
  afterEach(async () => {
    poster?.close();
    await server?.close();
    server = undefined;
    poster = undefined;
  });

  it('posts the callback to /v10/interactions/{id}/{token}/callback with no bot token, over kept-alive connections', async () => {
    server = await callbackServer((_n, _req, res) => {
      res.writeHead(204);
      res.end();
    });
    poster = createInteractionCallbackPoster(server.apiBase);
    await poster.post('123', TOKEN, { type: 5, data: { flags: 64 } });
    await poster.post('124', TOKEN, { type: 6 });
    expect(server.seen.map((s) => s.path)).toEqual([`/api/v10/interactions/123/${TOKEN}/callback`, `/api/v10/interactions/124/${TOKEN}/callback`]);
    expect(server.seen[0]!.body).toEqual({ type: 5, data: { flags: 64 } });
    expect(server.seen[0]!.headers.authorization).toBeUndefined();
    expect(server.seen[0]!.headers['user-agent']).toMatch(/^DiscordBot \(/);
    expect(server.connections()).toBe(1);
  });

  it('waits out a 429 and tries again while the answer can still be in time', async () => {
    server = await callbackServer((n, _req, res) => {
      if (n === 0) return discordError(res, 429, { message: 'You are being rate limited.', retry_after: 0.05, global: false }, { 'retry-after': '0.05' });
      res.writeHead(204);
      res.end();
    });
    poster = createInteractionCallbackPoster(server.apiBase);
    const started = performance.now();
    await poster.post('200', TOKEN, { type: 5, data: { flags: 64 } });
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    expect(server.seen).toHaveLength(2);

    // A wait past Discord's 3 seconds is not worth it: the 429 is the answer.
    server.seen.length = 0;
    const slow = await callbackServer((_n, _req, res) => discordError(res, 429, { message: 'slow down', retry_after: 5 }, { 'retry-after': '5' }));
    const slowPoster = createInteractionCallbackPoster(slow.apiBase);
    try {
      const error = await slowPoster.post('201', TOKEN, { type: 5 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ status: 429 });
      expect(slow.seen).toHaveLength(1);
    } finally {
      slowPoster.close();
      await slow.close();
    }
  });

  it("rejects with Discord's code, and never the token, when Discord refuses", async () => {
    server = await callbackServer((_n, _req, res) => discordError(res, 400, { code: 40060, message: 'Interaction has already been acknowledged.' }));
    poster = createInteractionCallbackPoster(server.apiBase);
    const error = await poster.post('300', TOKEN, { type: 5 }).catch((e: unknown) => e);
    expect(isStaleInteraction(error)).toBe(true);
    expect(server.seen).toHaveLength(1); // a 4xx is not tried again
    const safe = safeDiscordError(error);
    const logged = JSON.stringify({ ...safe, message: safe.message, original: (error as Error).message });
    expect(logged).toContain('40060');
    expect(logged).not.toContain(TOKEN);
  });

  it('tries again after a dropped connection, and takes "already acknowledged" then as its own echo', async () => {
    server = await callbackServer((n, req, res) => {
      if (n === 0) return void req.socket.destroy(); // it arrived, but the answer is lost on the way back
      discordError(res, 400, { code: 40060, message: 'Interaction has already been acknowledged.' });
    });
    poster = createInteractionCallbackPoster(server.apiBase);
    await expect(poster.post('400', TOKEN, { type: 5 })).resolves.toBeUndefined();
    expect(server.seen).toHaveLength(2);
  });

  it('keeps at most maxSockets connections, a burst waiting its turn', async () => {
    server = await callbackServer((_n, _req, res) => {
      setTimeout(() => {
        res.writeHead(204);
        res.end();
      }, 5);
    });
    poster = createInteractionCallbackPoster(server.apiBase, { maxSockets: 3 });
    await Promise.all(Array.from({ length: 30 }, (_, i) => poster!.post(String(500 + i), TOKEN, { type: 5 })));
    expect(server.seen).toHaveLength(30);
    expect(server.peakOpen()).toBeLessThanOrEqual(3);
  });
});
