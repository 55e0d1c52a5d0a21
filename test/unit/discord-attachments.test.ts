import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachmentPolicy, discordPhotoSource } from '../../src/bots/discord/attachments.js';
import { allowedUrl as allowedAttachmentUrl, isPrivateAddress } from '../../src/net/safe-download.js';

describe('attachment URLs', () => {
  const policy = attachmentPolicy(['files.example.org', '127.0.0.1:8443']);

  it('are fetched only from Discord’s CDN and the configured hosts, over https', () => {
    expect(allowedAttachmentUrl('https://cdn.discordapp.com/attachments/1/2/me.jpg?ex=1&is=2&hm=3', policy)?.hostname).toBe('cdn.discordapp.com');
    expect(allowedAttachmentUrl('https://media.discordapp.net/attachments/1/2/me.jpg', policy)).toBeDefined();
    expect(allowedAttachmentUrl('https://files.example.org/me.jpg', policy)).toBeDefined();
    expect(allowedAttachmentUrl('http://127.0.0.1:8443/me.jpg', policy)).toBeDefined(); // http only for an exact host:port an operator listed
    for (const bad of [
      'http://cdn.discordapp.com/attachments/1/2/me.jpg',
      'https://cdn.discordapp.com.evil.example/me.jpg',
      'https://evil.example/cdn.discordapp.com/me.jpg',
      'https://user:pass@cdn.discordapp.com/me.jpg',
      'https://127.0.0.1:9999/me.jpg',
      'http://files.example.org/me.jpg',
      'file:///etc/passwd',
      'not a url',
    ]) {
      expect(allowedAttachmentUrl(bad, policy), bad).toBeUndefined();
    }
  });

  it('never lead to private, loopback or link-local addresses', () => {
    for (const ip of ['127.0.0.1', '10.1.2.3', '172.16.0.9', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1']) {
      expect(isPrivateAddress(ip), ip).toBe(true);
    }
    for (const ip of ['162.159.128.233', '8.8.8.8', '2606:4700::6810:1', '::ffff:8.8.8.8']) expect(isPrivateAddress(ip), ip).toBe(false);
  });

  it('never lead to the special ranges a hand-written list missed (issue 21, point 11): only global unicast passes', () => {
    // IPv4-compatible loopback, 6to4, Teredo, local-use NAT64, discard-only, the 6to4 relay anycast, documentation, benchmarking.
    for (const ip of ['::7f00:1', '::127.0.0.1', '2002::1', '2002:7f00:1::', '2001::1', '2001:0:4136:e378::1', '64:ff9b:1::a00:1', '64:ff9b::7f00:1', '100::1', '192.88.99.1', '2001:db8::1', '198.18.0.1', '240.0.0.1', 'not-an-ip']) {
      expect(isPrivateAddress(ip), ip).toBe(true);
    }
    for (const ip of ['2001:4860:4860::8888', '1.1.1.1']) expect(isPrivateAddress(ip), ip).toBe(false);
  });
});

describe('attachment download', () => {
  let server: Server;
  let port: number;
  const big = Buffer.alloc(64 * 1024, 7);

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok.jpg') return void res.end(Buffer.from('jpeg bytes'));
      if (req.url === '/endless') {
        // No content-length, more bytes than announced: the cap must hold while streaming.
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        const timer = setInterval(() => res.write(big), 1);
        res.on('close', () => clearInterval(timer));
        return;
      }
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' });
        return void res.end();
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const trusted = () => attachmentPolicy([`127.0.0.1:${port}`, `localhost:${port}`], { allowPrivateAddresses: true });
  const source = (path: string, policy = trusted(), size?: number, host = '127.0.0.1') => discordPhotoSource({ url: `http://${host}:${port}${path}`, size }, 'photo1', policy);

  it('reads a photo from a trusted host', async () => {
    expect((await source('/ok.jpg').read(1024)).toString()).toBe('jpeg bytes');
  });

  it('stops a download as soon as it passes the byte limit', async () => {
    await expect(source('/endless').read(200 * 1024)).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
  });

  it('refuses a file Discord says is too large without downloading it', async () => {
    await expect(source('/ok.jpg', trusted(), 10_000_000).read(1024)).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
  });

  it('follows no redirects and says a failed download is a photo to send again', async () => {
    await expect(source('/redirect').read(1024)).rejects.toMatchObject({ code: 'CORRUPT_IMAGE' });
    await expect(source('/missing.jpg').read(1024)).rejects.toMatchObject({ code: 'CORRUPT_IMAGE' });
  });

  it('refuses loopback addresses unless told otherwise, by literal or by name', async () => {
    const production = attachmentPolicy([`127.0.0.1:${port}`, `localhost:${port}`]);
    await expect(source('/ok.jpg', production).read(1024)).rejects.toMatchObject({ code: 'CORRUPT_IMAGE' });
    await expect(source('/ok.jpg', production, undefined, 'localhost').read(1024)).rejects.toMatchObject({ code: 'CORRUPT_IMAGE' });
    await expect(source('/ok.jpg', trusted(), undefined, 'localhost').read(1024)).resolves.toEqual(Buffer.from('jpeg bytes'));
  });
});
