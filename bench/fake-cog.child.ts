/**
 * K fake Cog containers of test/support in a process of their own, for the GPU utilisation bench:
 * real GPU machines are elsewhere, so their HTTP work must not share the worker's event loop.
 * Driven over IPC by bench/gpu-utilisation.ts; busy intervals are reported in epoch ms
 * (performance.timeOrigin + performance.now()), comparable across the two processes.
 */
import sharp from 'sharp';
import { startFakeCog, type FakeCog } from '../test/support/fake-cog.js';

export type CogChildRequest = { type: 'start'; endpoints: number; serviceMs: number } | { type: 'report' } | { type: 'close' };

export type CogChildReply = { type: 'started'; urls: string[] } | { type: 'report'; intervals: Array<Array<[number, number]>> };

let fakes: FakeCog[] = [];
const send = (reply: CogChildReply) => process.send?.(reply);

process.on('message', (message: CogChildRequest) => {
  void (async () => {
    switch (message.type) {
      case 'start': {
        const output = await sharp({ create: { width: 64, height: 80, channels: 3, background: { r: 90, g: 90, b: 90 } } })
          .png()
          .toBuffer();
        fakes = await Promise.all(Array.from({ length: message.endpoints }, () => startFakeCog({ serviceMs: message.serviceMs, render: async () => output })));
        send({ type: 'started', urls: fakes.map((f) => f.url) });
        return;
      }
      case 'report':
        send({ type: 'report', intervals: fakes.map((f) => f.intervals.map(([a, b]) => [performance.timeOrigin + a, performance.timeOrigin + b] as [number, number])) });
        return;
      case 'close':
        await Promise.all(fakes.map((f) => f.close()));
        process.exit(0);
    }
  })();
});
