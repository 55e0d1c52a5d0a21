/** The chaos verdict is only as good as its arithmetic: the pure parts of test/chaos. */
import { describe, expect, it } from 'vitest';
import { drainedAfter, judge, quantile, type JobRow } from '../chaos/audit.js';
import { groupByChat, type ChatDeliveries } from '../chaos/deliveries.js';
import type { RequestRecord } from '../chaos/load.js';
import { chatIdOf } from '../chaos/rate-limit-proxy.js';

const record = (seq: number, extra: Partial<RequestRecord> = {}): RequestRecord => ({
  seq,
  eventId: `e${seq}`,
  userId: 'u',
  chatId: 100 + seq,
  sentAt: 1_000 * seq,
  repliedAt: 1_000 * seq + 5,
  ...extra,
});

const job = (id: string, seq: number, extra: Partial<JobRow> = {}): JobRow => ({
  id,
  idempotencyKey: `telegram:e${seq}`,
  kind: 'portrait',
  status: 'succeeded',
  price: 4,
  attempts: 1,
  errorCode: null,
  accountId: 'a',
  platformUserId: 'u',
  createdAt: 0,
  startedAt: 1,
  finishedAt: 2,
  deliveredAt: 3,
  results: 4,
  net: -4,
  reserves: 1,
  commits: 1,
  refunds: 0,
  likenessRefunded: 0,
  ...extra,
});

const chats = (entries: Array<[number, Partial<ChatDeliveries>]>) => new Map(entries.map(([id, c]) => [id, { albums: [], texts: [], ...c }]));

describe('chaos verdict', () => {
  it('counts a delivered, a refunded-and-told, a lost and a refused request, each once', () => {
    const records = [record(1, { jobId: 'j1' }), record(2, { jobId: 'j2' }), record(3, { jobId: 'j3' }), record(4, { code: 'SERVICE_UNAVAILABLE' })];
    const jobs = [job('j1', 1), job('j2', 2, { status: 'failed', errorCode: 'GPU_UNAVAILABLE', net: 0, commits: 0, refunds: 1 }), job('j3', 3, { status: 'running' }), job('j4', 4, { status: 'failed', net: 0, refunds: 1 })];
    const tally = judge(records, jobs, chats([[101, { albums: [10] }], [102, { texts: [{ text: 'Something went wrong. Your credits were refunded.', at: 20 }] }]]));
    expect(tally).toMatchObject({ requests: 4, accepted: 3, delivered: 1, failedTold: 1, lost: 1, duplicated: 0, doubleCharged: 0, wronglyCharged: 0, refused: { SERVICE_UNAVAILABLE: 1 } });
  });

  it('catches an album sent twice, two jobs for one event, and credits kept by a failure or a refusal', () => {
    const records = [record(1, { jobId: 'j1' }), record(2, { jobId: 'j2' }), record(3, { code: 'SERVICE_UNAVAILABLE' })];
    const jobs = [
      job('j1', 1),
      job('j2', 2),
      job('j2b', 2),
      job('j3', 3, { status: 'failed', net: -4, refunds: 0 }),
    ];
    const tally = judge(records, jobs, chats([[101, { albums: [10, 11] }], [102, { albums: [12] }]]), 1);
    expect(tally.duplicated).toBe(1);
    expect(tally.doubleCharged).toBe(1); // the event with two jobs
    // The refused request's job kept 4 credits (counted for the request and for the job), plus the orphan ledger row.
    expect(tally.wronglyCharged).toBe(3);
    expect(tally.problems.join('\n')).toMatch(/2 albums/);
  });

  it('a success keeps its price, less what the likeness gate gave back', () => {
    const records = [record(1, { jobId: 'j1' }), record(2, { jobId: 'j2' })];
    const jobs = [job('j1', 1, { net: -1, likenessRefunded: 3 }), job('j2', 2, { net: 0 })];
    const tally = judge(records, jobs, chats([[101, { albums: [1] }], [102, { albums: [2] }]]));
    expect(tally.wronglyCharged).toBe(1);
    expect(tally.problems).toEqual([expect.stringContaining('job j2 succeeded with net 0')]);
  });

  it('a failure the chat was never told about is lost, even when it was refunded', () => {
    const tally = judge([record(1, { jobId: 'j1' })], [job('j1', 1, { status: 'failed', net: 0, refunds: 1 })], chats([]));
    expect(tally).toMatchObject({ lost: 1, failedTold: 0 });
  });

  it('recovery runs until the last request accepted before the moment reached its chat; never when one did not', () => {
    const records = [record(1, { jobId: 'j1' }), record(2, { jobId: 'j2' }), record(9, { jobId: 'j9' })];
    expect(drainedAfter(5_000, records, chats([[101, { albums: [6_000] }], [102, { albums: [7_500] }]]))).toBe(2_500);
    expect(drainedAfter(5_000, records, chats([[101, { albums: [6_000] }]]))).toBeUndefined();
  });

  it('groups only the calls the platform accepted, by chat', () => {
    const grouped = groupByChat([
      { call: { method: 'sendMediaGroup', params: { chat_id: 5 } }, at: 1 },
      { call: { method: 'sendMediaGroup', params: { chat_id: 5 }, failed: 429 }, at: 2 },
      { call: { method: 'sendMessage', params: { chat_id: 5, text: 'hi' } }, at: 3 },
      { call: { method: 'getUpdates', params: {} }, at: 4 },
    ]);
    expect([...grouped.entries()]).toEqual([[5, { albums: [1], texts: [{ text: 'hi', at: 3 }] }]]);
  });

  it('reads chat_id from JSON and multipart bodies', () => {
    expect(chatIdOf(Buffer.from('{"chat_id":-1001,"text":"x"}'), 'application/json')).toBe('-1001');
    const multipart = '--b\r\nContent-Disposition: form-data; name="chat_id"\r\n\r\n4242\r\n--b\r\nContent-Disposition: form-data; name="media"\r\n\r\n[]\r\n--b--';
    expect(chatIdOf(Buffer.from(multipart), 'multipart/form-data; boundary=b')).toBe('4242');
    expect(chatIdOf(Buffer.from('nonsense'), 'application/json')).toBeUndefined();
  });

  it('quantiles', () => {
    expect(quantile([5, 1, 3, 2, 4], 0.5)).toBe(3);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95)).toBe(10);
    expect(quantile([], 0.5)).toBeNaN();
  });
});
