/**
 * The life of a request, owned by the command layer, on in-memory ports: what a person sees on
 * the status message, what a reaction or a button means and whose it is, the terms card that holds
 * a request and replays it, and a delivery that can never succeed. No Postgres, Redis or chat here.
 */
import sharp from 'sharp';
import { beforeEach, describe, expect, it } from 'vitest';
import { createIntakeGate } from '../../src/bots/core/intake-gate.js';
import { createMemoryIntakeLimit } from '../../src/bots/core/intake-limit.js';
import { deliverJobEvent, deliveryGivenUp } from '../../src/bots/core/job-delivery.js';
import { createCommandLayer } from '../../src/bots/core/command-layer.js';
import { createRequestLife, reactionMeaning, type RequestLife } from '../../src/bots/core/request-life.js';
import type { Request } from '../../src/bots/core/request.js';
import { createStyleCatalog } from '../../src/gpu/styles.js';
import { createLogger } from '../../src/logger.js';
import { createMemoryChat, createMemoryQueue, createMemoryRepositories, createMemoryStore, memoryCommandLayer, memoryPhoto } from '../support/memory-ports.js';

const logger = createLogger({ level: 'silent' });
const face = await sharp({ create: { width: 320, height: 400, channels: 3, background: '#a08070' } }).jpeg().toBuffer();

describe('the request life, on in-memory ports', () => {
  let memory: ReturnType<typeof createMemoryRepositories>;
  let queue: ReturnType<typeof createMemoryQueue>;
  let store: ReturnType<typeof createMemoryStore>;
  let chat: ReturnType<typeof createMemoryChat>;
  let life: RequestLife;
  let seq = 0;
  const photos = new Map([['kim.jpg', face]]);

  beforeEach(() => {
    memory = createMemoryRepositories();
    queue = createMemoryQueue();
    store = createMemoryStore();
    chat = createMemoryChat(photos);
    const { commands, held } = memoryCommandLayer(memory.repos, queue, store);
    life = createRequestLife({ commands, repos: memory.repos, chat: chat.chat, held, logger });
  });

  const request = (user: string, command: Request['command'], extra: Partial<Request> = {}): Request => ({
    platform: 'telegram',
    eventId: String(++seq),
    user: { id: user },
    conversation: { platform: 'telegram', chatId: '-100', messageId: String(seq), userId: user },
    command,
    ...extra,
  });

  /** A person who agreed to the terms and got a finished portrait set, shown as one message per picture. */
  async function finishedSet(user: string) {
    await life.submit(request(user, 'consent'));
    const reply = await life.submit(request(user, 'portrait', { photos: [memoryPhoto(photos, 'kim.jpg')] }));
    const results = memory.finishJob(reply.job!.id, 4);
    for (const r of results) {
      await store.put(r.artifactKey, face);
      await memory.repos.results.recordShown(r.id, `mem:-100:${r.variant + 1000}`);
    }
    chat.events.length = 0;
    return { jobId: reply.job!.id, results };
  }

  it('a photo request: the first word before any download, then the answer in its place', async () => {
    await life.submit(request('kim', 'consent'));
    chat.events.length = 0;
    const reply = await life.submit(request('kim', 'portrait', { photos: [memoryPhoto(photos, 'kim.jpg')] }));
    expect(reply.job).toBeDefined();
    expect(chat.events.map((e) => [e.what, e.text.split(':')[0]])).toEqual([
      ['post', '📥 Got your photo, checking it…'],
      ['edit', 'Making 4 portraits in the Studio portrait style'],
    ]);
    // The job knows its status message, so whichever process delivers edits that one.
    expect(chat.statusText(memory.jobs.get(reply.job!.id)!.conversation!.statusMessageId)).toBe(reply.text);
  });

  it('a reaction by the owner on portrait 3 asks for the 8K of portrait 3, with its own status', async () => {
    const { results } = await finishedSet('kim');
    await life.react({ eventId: 'r1', user: { id: 'kim' }, chatId: '-100', messageId: '1002', messageKey: 'mem:-100:1002', intent: { kind: 'upscale' } });
    const upscale = [...memory.jobs.values()].find((j) => j.kind === 'upscale')!;
    expect(upscale.params).toMatchObject({ resultId: results[2]!.id, variant: 2, targetLongEdge: 7680 });
    expect(chat.events.map((e) => e.text.split(':')[0])).toEqual(['⏳ One moment…', 'Making the 8K version of portrait 3']);
    expect(upscale.conversation).toMatchObject({ chatId: '-100', messageId: '1002', userId: 'kim', statusMessageId: expect.any(String) });
  });

  it('a reaction by someone else changes nothing and says nothing', async () => {
    await finishedSet('kim');
    await life.submit(request('lee', 'consent'));
    chat.events.length = 0;
    await life.react({ eventId: 'r2', user: { id: 'lee' }, chatId: '-100', messageId: '1001', messageKey: 'mem:-100:1001', intent: { kind: 'upscale' } });
    await life.react({ eventId: 'r3', user: { id: 'lee' }, chatId: '-100', messageId: '1001', messageKey: 'mem:-100:1001', intent: { kind: 'notthem' } });
    expect(chat.events).toEqual([]);
    expect([...memory.jobs.values()].filter((j) => j.kind === 'upscale' || j.parentJobId)).toEqual([]);
    expect(memory.ledger.some((e) => e.reason === 'refund')).toBe(false);
  });

  it('a reaction on a message that shows no result of ours is not a request', async () => {
    await finishedSet('kim');
    await life.react({ eventId: 'r4', user: { id: 'kim' }, chatId: '-100', messageId: '77', messageKey: 'mem:-100:77', intent: { kind: 'upscale' } });
    expect(chat.events).toEqual([]);
    expect(queue.line).toHaveLength(1); // the portrait alone
  });

  it('what a reaction means: ❤ on the 8K file is thanks, 👎 only on portraits, a keycap picks its variant', () => {
    const set = [0, 1, 2, 3].map((variant) => ({ id: `r${variant}`, variant }));
    expect(reactionMeaning({ kind: 'upscale', variant: 1 }, { id: 'j', kind: 'portrait' }, set)).toEqual({ command: 'upscale', target: 'r1' });
    expect(reactionMeaning({ kind: 'upscale' }, { id: 'j', kind: 'portrait' }, set)).toBeUndefined(); // ⭐ on a message of four: which?
    expect(reactionMeaning({ kind: 'upscale' }, { id: 'j', kind: 'upscale' }, [set[0]!])).toBeUndefined();
    expect(reactionMeaning({ kind: 'notthem' }, { id: 'j', kind: 'restore' }, [set[0]!])).toBeUndefined();
    expect(reactionMeaning({ kind: 'reroll' }, { id: 'j', kind: 'portrait' }, set)).toEqual({ command: 'reroll', target: 'j' });
    expect(reactionMeaning({ kind: 'delete' }, { id: 'j', kind: 'upscale' }, [set[0]!])).toBe('delete');
  });

  it('the terms card holds a photo request; "I agree" runs it once, reading the photo again', async () => {
    const first = request('ana', 'portrait', { photos: [memoryPhoto(photos, 'kim.jpg')], options: { style: 'noir' } });
    const card = await life.submit(first);
    expect(card.code).toBe('CONSENT_REQUIRED');
    expect(memory.jobs.size).toBe(0);
    expect(chat.events.at(-1)).toMatchObject({ what: 'edit', text: expect.stringContaining('Before we start') });

    const agreed = await life.submit(request('ana', 'consent'));
    expect(agreed.tone).toBe('success');
    const [job] = [...memory.jobs.values()];
    expect(job).toMatchObject({ kind: 'portrait', style: 'noir', idempotencyKey: `telegram:${first.eventId}` });
    expect(job!.conversation).toMatchObject({ messageId: first.conversation.messageId });
    expect(store.objects.has(`inputs/${job!.id}/0.jpg`)).toBe(true);

    // Agreeing again (a slow thumb) finds nothing held: still one job.
    await life.submit(request('ana', 'consent'));
    expect(memory.jobs.size).toBe(1);
  });

  it('a fast job that ended before its answer was shown: the status says how it ended, a cancelled one that it was refunded', async () => {
    const { commands, held } = memoryCommandLayer(memory.repos, createMemoryQueue((jobId) => void memory.repos.jobs.endWithRefund(jobId, 'cancelled', null)), store);
    life = createRequestLife({ commands, repos: memory.repos, chat: chat.chat, held, logger });
    await life.submit(request('kim', 'consent'));
    const reply = await life.submit(request('kim', 'portrait', { photos: [memoryPhoto(photos, 'kim.jpg')] }));
    const status = memory.jobs.get(reply.job!.id)!.conversation!.statusMessageId;
    expect(chat.statusText(status)).toBe('Cancelled; the credits were refunded.');
  });

  it('a person sending photo after photo is slowed before anything is downloaded; refused ones count too (issue 21, point 2)', async () => {
    const { deps } = memoryCommandLayer(memory.repos, queue, store);
    const limit = createMemoryIntakeLimit(3);
    const commands = createCommandLayer({ ...deps, intakeLimit: limit });
    let downloads = 0;
    const counted = { ...memoryPhoto(photos, 'kim.jpg'), read: async () => (downloads++, Buffer.from('not a photo')) };
    await commands.handle(request('mo', 'consent'));
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await commands.handle(request('mo', 'portrait', { photos: [counted] })));
    expect(replies.map((r) => r.code)).toEqual(['UNSUPPORTED_FORMAT', 'UNSUPPORTED_FORMAT', 'UNSUPPORTED_FORMAT', 'SLOW_DOWN', 'SLOW_DOWN']);
    expect(replies[3]!.text).toMatch(/wait 10 minutes.*Nothing was charged/);
    expect(downloads).toBe(3);
    // Someone else is not held back by it.
    await commands.handle(request('kim', 'consent'));
    expect((await commands.handle(request('kim', 'portrait', { photos: [memoryPhoto(photos, 'kim.jpg')] }))).job).toBeDefined();
  });

  it('past the intake queue a photo request hears "busy" at once, and nothing is charged (issue 21, point 2)', async () => {
    const gate = createIntakeGate({ concurrency: 1, maxWaiting: 1 });
    let release!: () => void;
    const blocker = gate.heavy(() => new Promise<void>((r) => (release = r)));
    const { commands, held } = memoryCommandLayer(memory.repos, queue, store);
    life = createRequestLife({ commands, repos: memory.repos, chat: chat.chat, held, gate, logger });
    await life.submit(request('kim', 'consent'));
    const waiting = life.submit(request('kim', 'portrait', { photos: [memoryPhoto(photos, 'kim.jpg')] }));
    await new Promise((r) => setTimeout(r, 20));
    const busy = await life.submit(request('lee', 'portrait', { photos: [memoryPhoto(photos, 'kim.jpg')] }));
    expect(busy.code).toBe('INTAKE_BUSY');
    expect(chat.events.at(-1)!.text).toMatch(/try again in a minute/);
    release();
    await blocker;
    expect((await waiting).job).toBeDefined();
    expect(memory.jobs.size).toBe(1);
  });

  describe('a delivery that can never succeed', () => {
    const deliveryDeps = () => ({ repos: memory.repos, styles: createStyleCatalog(), chats: new Map([['telegram', chat.chat]]), logger });

    it('refunds once, records why, tells the person privately, and is not tried again', async () => {
      const { jobId } = await finishedSet('kim');
      memory.jobs.get(jobId)!.deliveredAt = null;
      const spentBefore = memory.spent(memory.jobs.get(jobId)!.accountId!);
      chat.settings.closed = true;

      expect(await deliverJobEvent(deliveryDeps(), { jobId, event: 'succeeded' })).toBe('undeliverable');
      const job = memory.jobs.get(jobId)!;
      expect(job.undeliveredReason).toMatch(/blocked/);
      expect(job.deliveredAt).not.toBeNull();
      expect(memory.spent(job.accountId!)).toBe(spentBefore - 4);
      expect(chat.events.filter((e) => e.what === 'told')).toEqual([
        expect.objectContaining({ text: expect.stringMatching(/could not post it in that chat.*The 4 credits for it were refunded/) }),
      ]);

      // A redelivered event, or the queue giving up later: nothing more is refunded or said.
      expect(await deliverJobEvent(deliveryDeps(), { jobId, event: 'succeeded' })).toBe('skipped');
      await deliveryGivenUp(deliveryDeps(), jobId, new Error('timeout'));
      expect(memory.spent(job.accountId!)).toBe(spentBefore - 4);
      expect(chat.events.filter((e) => e.what === 'told')).toHaveLength(1);
    });

    it('a delivery whose attempts are all spent ends the same way, even with no private way left', async () => {
      const { jobId } = await finishedSet('kim');
      memory.jobs.get(jobId)!.deliveredAt = null;
      chat.settings.privateChat = false;
      await deliveryGivenUp(deliveryDeps(), jobId, new Error('Telegram answered HTTP 502'));
      const job = memory.jobs.get(jobId)!;
      expect(job.undeliveredReason).toBe('delivery attempts exhausted: Telegram answered HTTP 502');
      expect(memory.ledger.filter((e) => e.jobId === jobId && e.reason === 'refund').reduce((n, e) => n + e.delta, 0)).toBe(4);
    });

    it('pictures that do arrive are findable by their message at once', async () => {
      const { jobId, results } = await finishedSet('kim');
      memory.jobs.get(jobId)!.deliveredAt = null;
      expect(await deliverJobEvent(deliveryDeps(), { jobId, event: 'succeeded' })).toBe('delivered');
      const keys = results.map((r) => memory.results.get(r.id)!.platformMessageId);
      expect(new Set(keys).size).toBe(4);
      expect(await memory.repos.results.shownBy(keys[1]!)).toEqual([expect.objectContaining({ id: results[1]!.id })]);
      expect(chat.events.map((e) => e.what)).toEqual(['results', 'edit']);
      expect(chat.events[1]!.text).toBe('✅ Done — the results are below.');
    });
  });
});
