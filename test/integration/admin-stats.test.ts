import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { createApp, type App } from '../../src/app.js';
import { formatAgreement, formatUsageReport, parseAdminArgs } from '../../src/bots/core/commands/admin.command.js';
import type { GpuBackend } from '../../src/gpu/backend.js';
import { createInstantBackend } from '../../src/gpu/instant.backend.js';
import { creditLedger } from '../../src/db/schema.js';
import { createLogger } from '../../src/logger.js';
import { bufferSource, chatRequest, createTestApp, recordingDeliverer, type TestApp } from '../support/test-app.js';

const photo = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));

/** The instant backend, metered like a paid one: every job costs 2.5 GPU seconds and one cent. */
const metered = (name: string): GpuBackend => {
  const instant = createInstantBackend({ delayMs: 0 });
  return { name, run: async (task, signal) => ({ ...(await instant.run(task, signal)), gpuSeconds: 2.5, costUsd: 0.01 }) };
};

describe('/admin stats and the admin log', () => {
  let t: TestApp;
  let app: App;
  const logLines: Array<Record<string, unknown>> = [];
  const outbox = recordingDeliverer();
  const ROOT = { platform: 'telegram' as const, user: { id: '1' } };

  beforeEach(async () => {
    logLines.length = 0;
    t = await createTestApp({ ADMIN_IDS: 'telegram:1' });
    // The same config with a logger we can read: admin actions must be on the record.
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (logLines.push(JSON.parse(chunk.toString())), done()) });
    app = createApp(t.config, createLogger({ level: 'info', destination: sink }));
    app.startGpuWorker(metered('replicate'));
    app.startDeliveryWorker(new Map([['telegram', outbox.deliverer]]));
  });
  afterEach(async () => {
    await app.close();
    await t.cleanup();
  });

  it('shows jobs, GPU seconds and cost by day, backend and user, and logs who asked', async () => {
    for (const [user, name, count] of [['7', 'Ada', 2], ['8', 'Bo', 1]] as const) {
      await app.commands.handle(chatRequest({ command: 'consent', user: { id: user, displayName: name } }));
      for (let i = 0; i < count; i++) {
        const reply = await app.commands.handle(chatRequest({ command: 'restore', user: { id: user, displayName: name }, photos: [bufferSource(photo)] }));
        expect(reply.job, reply.text).toBeDefined();
        await outbox.finalFor(reply.job!.id);
      }
    }
    const grant = await app.commands.handle(chatRequest({ ...ROOT, command: 'admin', options: { args: 'grant 7 25' } }));
    expect(grant.text).toBe('Granted 25 credits to telegram:7.');

    const stats = await app.commands.handle(chatRequest({ ...ROOT, command: 'admin', options: { args: 'stats' } }));
    const today = new Date().toISOString().slice(0, 10);
    expect(stats.ephemeral).toBe(true);
    expect(stats.text.split('\n')).toEqual([
      'Usage, last 7 days (UTC)',
      'Total — 3 jobs (succeeded 3) · GPU 7.5 s · $0.03',
      'By day:',
      `• ${today} — 3 jobs · GPU 7.5 s · $0.03`,
      'By backend:',
      '• replicate — 3 jobs · GPU 7.5 s · $0.03',
      'Top users:',
      '• telegram:7 (Ada) — 2 jobs · GPU 5.0 s · $0.02',
      '• telegram:8 (Bo) — 1 job · GPU 2.5 s · $0.01',
      'Likeness: no scored portrait sets yet.',
    ]);

    // Forgotten people stay in the sums, anonymously.
    await app.commands.handle(chatRequest({ command: 'forget', user: { id: '8' }, target: 'confirm' }));
    const after = await app.commands.handle(chatRequest({ ...ROOT, command: 'admin', options: { args: 'stats 1' } }));
    expect(after.text).toContain('Usage, last 1 day (UTC)');
    expect(after.text).toContain('• forgotten — 1 job · GPU 2.5 s · $0.01');

    const actions = logLines.filter((l) => l.msg === 'admin action');
    expect(actions.map((a) => [a.admin, a.action])).toEqual([
      ['telegram:1', 'grant'],
      ['telegram:1', 'stats'],
      ['telegram:1', 'stats'],
    ]);
    expect(actions[0]).toMatchObject({ user: 'telegram:7', amount: 25 });
  });

  it('grants once for one platform event, however often it is delivered', async () => {
    const event = chatRequest({ ...ROOT, command: 'admin', options: { args: 'grant telegram:7 25' } });
    const first = await app.commands.handle(event);
    const again = await app.commands.handle({ ...event }); // the same update, redelivered
    expect(first.text).toBe('Granted 25 credits to telegram:7.');
    expect(again.text).toBe(first.text);
    // A new command (a new event) with the same words is a second grant.
    await app.commands.handle(chatRequest({ ...ROOT, command: 'admin', options: { args: 'grant telegram:7 25' } }));

    const account = await app.repos.accounts.find({ platform: 'telegram', userId: '7' });
    const grants = await app.database.db.select().from(creditLedger).where(and(eq(creditLedger.accountId, account!.id), eq(creditLedger.reason, 'grant')));
    expect(grants.map((g) => [g.delta, g.idempotencyKey])).toEqual([
      [25, `telegram:${event.eventId}`],
      [25, expect.stringMatching(/^telegram:/)],
    ]);
    expect(logLines.filter((l) => l.msg === 'admin grant already written for this event')).toHaveLength(1);
  });

  it('refuses stats to anyone not in ADMIN_IDS, as if the command did not exist', async () => {
    const reply = await app.commands.handle(chatRequest({ user: { id: '7' }, command: 'admin', options: { args: 'stats' } }));
    expect(reply.code).toBe('UNKNOWN_COMMAND');
    expect(logLines.some((l) => l.msg === 'admin action')).toBe(false);
  });
});

describe('admin parsing and formatting', () => {
  it('reads stats days within 1–90', () => {
    expect(parseAdminArgs('stats', 'telegram')).toEqual({ action: 'stats', days: 7 });
    expect(parseAdminArgs('stats 30', 'discord')).toEqual({ action: 'stats', days: 30 });
    expect(parseAdminArgs('stats 0', 'telegram')).toBeUndefined();
    expect(parseAdminArgs('stats 91', 'telegram')).toBeUndefined();
  });

  it('puts the likeness agreement in two lines', () => {
    const agreement = { since: new Date(), threshold: 60, sets: 20, rejectedLow: 3, rejectedHigh: 1, keptLow: 2, keptHigh: 14, rate: 0.85, meanLowestRejected: 48.6, meanLowestKept: 81.2 };
    expect(formatAgreement(agreement)).toBe(
      'Likeness: score and 👎 agree on 85% of 20 sets (weak = lowest variant under 60).\n👎 sets: 4 (lowest score 49 on average) · kept: 16 (81).',
    );
  });

  it('says so plainly when there was no usage', () => {
    const empty = { byStatus: {}, total: { key: 'total', jobs: 0, gpuSeconds: 0, costUsd: 0 }, byDay: [], byBackend: [], topUsers: [] };
    expect(formatUsageReport(empty, 7)).toBe('Usage, last 7 days (UTC)\nTotal — 0 jobs · GPU 0.0 s · $0.00');
  });
});
