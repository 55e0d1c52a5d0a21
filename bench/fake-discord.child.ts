/**
 * The fake Discord of test/support, in a process of its own, for the acknowledgement bench: the
 * real Discord is on other machines, so its work must not share the bot's event loop. Driven over
 * IPC by bench/discord-ack.ts; every time is measured here, on this process's clock.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeDiscord, OPTION, type FakeDiscord, type FakeInteraction } from '../test/support/fake-discord.js';
import { heicGridBomb, png16BitRotated } from '../test/support/hostile-images.js';

/** Issue 21's hostile files: the HEIC grid bomb (225 tiles sharing one, 4800 px square) and the 7071 px 16-bit PNG turned by EXIF. */
export type HostileFile = 'heic-bomb' | 'png16';

export type ChildRequest =
  | { type: 'start' }
  | { type: 'users'; names: string[] }
  | {
      type: 'burst';
      command: 'help' | 'portrait';
      names: string[];
      settleMs: number;
      waitForAnswers: boolean;
      /** /portrait from these people with a hostile file each, written to the socket first (section i). */
      attackers?: Array<{ name: string; file: HostileFile }>;
    }
  | { type: 'close' };

export type ChildReply =
  | { type: 'started'; token: string; apiBase: string; cdnHost: string; channelId: string }
  | { type: 'users'; ids: string[] }
  | {
      type: 'burst';
      /** How many of the interactions below, from the first, were the attackers'. */
      attackers: number;
      /** Per interaction: dispatch → acknowledgement (ms), or -1 when never acknowledged. */
      acks: number[];
      /** Per interaction: dispatch → the first edit of the deferred reply (ms), or -1. */
      answers: number[];
      /** Per interaction: the reply's last content. */
      outcomes: string[];
      /** Dispatch of the first to acknowledgement of the last (ms). */
      burstMs: number;
      /** Dispatch of the first to dispatch of the last (ms): how long the fake took to send the burst. */
      dispatchMs: number;
      /** CPU this fake spent from the burst's dispatch to its last acknowledgement (ms): it shares the machine with the bot. */
      fakeCpuMs: number;
    };

let fake: FakeDiscord | undefined;
const photo = await readFile(join(import.meta.dirname, '..', 'samples', 'astronaut.jpg'));

function send(reply: ChildReply): void {
  process.send?.(reply);
}

const hostile = new Map<HostileFile, { bytes: Buffer; filename: string; contentType: string }>();
async function hostileFile(file: HostileFile) {
  let found = hostile.get(file);
  if (!found) {
    found =
      file === 'png16'
        ? { bytes: await png16BitRotated(7071), filename: 'deep.png', contentType: 'image/png' }
        : { bytes: heicGridBomb(await readFile(join(import.meta.dirname, '..', 'test', 'fixtures', 'astronaut.heic')), 15, 15), filename: 'bomb.heic', contentType: 'image/heic' };
    hostile.set(file, found);
  }
  return found;
}

/** An interaction made ready to send (`release` sends it): the burst's payloads are built before the clock starts. */
function prepare(command: 'help' | 'portrait', name: string, file?: { bytes: Buffer; filename: string; contentType: string }): FakeInteraction {
  const from = fake!.user(name);
  if (command === 'help') return fake!.slash('help', [], { from, hold: true });
  const attachment = file ? fake!.attachment(file.bytes, file.filename, file.contentType) : fake!.attachment(photo, 'me.jpg');
  return fake!.slash(
    'portrait',
    [
      { name: 'style', type: OPTION.string, value: 'studio' },
      { name: 'photo1', type: OPTION.attachment, value: attachment.id },
    ],
    { from, attachments: [attachment], hold: true },
  );
}

process.on('message', (message: ChildRequest) => {
  void (async () => {
    switch (message.type) {
      case 'start':
        fake = await startFakeDiscord({ heartbeatIntervalMs: 41_250 });
        send({ type: 'started', token: fake.token, apiBase: fake.apiBase, cdnHost: fake.cdnHost, channelId: fake.channelId });
        return;
      case 'users':
        send({ type: 'users', ids: message.names.map((n) => fake!.user(n).id) });
        return;
      case 'burst': {
        await fake!.ready();
        const attackers = await Promise.all((message.attackers ?? []).map(async (a) => prepare('portrait', a.name, await hostileFile(a.file))));
        const sent = [...attackers, ...message.names.map((name) => prepare(message.command, name))];
        const cpu = process.cpuUsage();
        fake!.release(sent);
        const acked = () => sent.every((i) => i.callbacks.length > 0);
        await fake!.waitFor(acked, message.settleMs).catch(() => undefined);
        const fakeCpu = process.cpuUsage(cpu);
        if (message.waitForAnswers) await fake!.waitFor(() => sent.every((i) => (i.original?.editedAt.length ?? 0) > 0), message.settleMs).catch(() => undefined);
        const ackAt = (i: FakeInteraction) => i.callbacks.find((c) => c.status === 204)?.at;
        const first = Math.min(...sent.map((i) => i.dispatchedAt));
        const last = Math.max(...sent.map((i) => ackAt(i) ?? Number.NaN).filter(Number.isFinite));
        send({
          type: 'burst',
          attackers: attackers.length,
          acks: sent.map((i) => (ackAt(i) === undefined ? -1 : ackAt(i)! - i.dispatchedAt)),
          answers: sent.map((i) => (i.original?.editedAt[0] === undefined ? -1 : i.original.editedAt[0] - i.dispatchedAt)),
          outcomes: sent.map((i) => i.original?.content ?? ''),
          burstMs: last - first,
          dispatchMs: Math.max(...sent.map((i) => i.dispatchedAt)) - first,
          fakeCpuMs: (fakeCpu.user + fakeCpu.system) / 1000,
        });
        return;
      }
      case 'close':
        await fake?.close();
        process.exit(0);
    }
  })();
});
