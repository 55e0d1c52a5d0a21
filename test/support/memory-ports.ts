/**
 * The command layer's ports in memory, like grammY's MemorySessionStorage: the request life and
 * the job delivery run on them without Postgres, Redis or a chat platform, so a unit test says
 * exactly what a person did and what they saw. The rules they keep (one job per idempotency key,
 * free credits before paid, a refund once per job) are the ones src/db keeps in SQL.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { createCommandLayer, type CommandLayer } from '../../src/bots/core/command-layer.js';
import type { CoreDeps, WorkQueue } from '../../src/bots/core/context.js';
import { refusalFor, splitCharge, utcDay } from '../../src/bots/core/credit-rules.js';
import { UndeliverableError, type ChatPort, type StatusContext } from '../../src/bots/core/deliverer.js';
import { createMemoryHeldRequests, type HeldRequests } from '../../src/bots/core/held-requests.js';
import type { Account, Conversation, Job, Result } from '../../src/bots/core/model.js';
import type { Reply } from '../../src/bots/core/reply.js';
import type { Repositories } from '../../src/bots/core/repositories.js';
import type { PhotoRef, PhotoSource } from '../../src/bots/core/request.js';
import { createStyleCatalog } from '../../src/gpu/styles.js';
import { createLogger } from '../../src/logger.js';
import { ArtifactNotFoundError, type ArtifactStore } from '../../src/storage/artifact-store.js';

interface LedgerEntry {
  accountId: string;
  jobId?: string;
  delta: number;
  reason: 'free' | 'grant' | 'reserve' | 'refund';
  pocket: 'free' | 'paid';
  day?: string;
}

/** Repositories in memory, with their contents open to the test. */
export function createMemoryRepositories() {
  const accounts = new Map<string, Account>();
  const identities = new Map<string, string>(); // platform:userId → account id
  const jobs = new Map<string, Job>();
  const results = new Map<string, Result>();
  const ledger: LedgerEntry[] = [];
  /** Idempotency keys of the grants written (the ledger's unique index, in memory). */
  const grantKeys = new Set<string>();

  const balanceOf = (accountId: string, freeDaily: number, day: string) => {
    const mine = ledger.filter((e) => e.accountId === accountId);
    const paid = mine.filter((e) => e.pocket === 'paid').reduce((n, e) => n + e.delta, 0);
    const freeUsed = mine.filter((e) => e.pocket === 'free' && e.day === day).reduce((n, e) => n + e.delta, 0);
    return { paid, freeLeft: freeDaily + freeUsed };
  };
  const active = (accountId: string) => [...jobs.values()].filter((j) => j.accountId === accountId && (j.status === 'queued' || j.status === 'running'));
  const refundReservation = (jobId: string, reason: 'refund') => {
    if (ledger.some((e) => e.jobId === jobId && e.reason === reason)) return 0;
    const reserved = ledger.filter((e) => e.jobId === jobId && e.reason === 'reserve');
    for (const r of reserved) ledger.push({ ...r, delta: -r.delta, reason });
    return reserved.reduce((n, r) => n - r.delta, 0);
  };

  const repos: Repositories = {
    accounts: {
      async resolve(user) {
        const key = `${user.platform}:${user.userId}`;
        let id = identities.get(key);
        if (!id) {
          id = randomUUID();
          accounts.set(id, { id, createdAt: new Date(), consentedAt: null, bannedAt: null, banReason: null });
          identities.set(key, id);
        }
        return { ...accounts.get(id)! };
      },
      async find(user) {
        const id = identities.get(`${user.platform}:${user.userId}`);
        return id ? { ...accounts.get(id)! } : undefined;
      },
      async recordConsent(accountId, at) {
        const account = accounts.get(accountId)!;
        account.consentedAt ??= at;
      },
      async setBanned(accountId, banned, reason) {
        Object.assign(accounts.get(accountId)!, banned ? { bannedAt: new Date(), banReason: reason ?? null } : { bannedAt: null, banReason: null });
      },
    },
    submissions: {
      async check(accountId, key, price, rules, now) {
        const existing = [...jobs.values()].find((j) => j.idempotencyKey === key);
        if (existing) return { existingJobId: existing.id };
        const refusal = refusalFor(price, balanceOf(accountId, rules.freeDaily, utcDay(now)), active(accountId).length, rules);
        if (refusal) throw refusal;
        return {};
      },
      async create(input, rules, now) {
        const existing = [...jobs.values()].find((j) => j.idempotencyKey === input.idempotencyKey);
        if (existing) return { jobId: existing.id, duplicate: true };
        const day = utcDay(now);
        const balance = balanceOf(input.accountId, rules.freeDaily, day);
        const refusal = refusalFor(input.price, balance, active(input.accountId).length, rules);
        if (refusal) throw refusal;
        const id = input.id ?? randomUUID();
        const charge = splitCharge(input.price, balance)!;
        if (charge.free > 0) ledger.push({ accountId: input.accountId, jobId: id, delta: -charge.free, reason: 'reserve', pocket: 'free', day });
        if (charge.paid > 0) ledger.push({ accountId: input.accountId, jobId: id, delta: -charge.paid, reason: 'reserve', pocket: 'paid' });
        jobs.set(id, {
          id,
          accountId: input.accountId,
          kind: input.kind,
          style: input.style ?? null,
          subject: input.subject ?? null,
          status: 'queued',
          idempotencyKey: input.idempotencyKey,
          conversation: structuredClone(input.conversation),
          inputs: [...input.inputs],
          params: structuredClone(input.params) as Record<string, unknown>,
          price: input.price,
          backend: null,
          model: null,
          errorCode: null,
          parentJobId: input.parentJobId ?? null,
          inputsPurgedAt: null,
          createdAt: now,
          startedAt: null,
          finishedAt: null,
          deliveredAt: null,
          undeliveredReason: null,
        });
        return { jobId: id, duplicate: false };
      },
    },
    jobs: {
      get: async (jobId) => (jobs.has(jobId) ? structuredClone(jobs.get(jobId)!) : undefined),
      getByKey: async (key) => [...jobs.values()].find((j) => j.idempotencyKey === key),
      activeOf: async (accountId) => active(accountId),
      recentOf: async (accountId, limit) => [...jobs.values()].filter((j) => j.accountId === accountId).slice(-limit).reverse(),
      async endWithRefund(jobId, status, errorCode) {
        const job = jobs.get(jobId);
        if (!job || (job.status !== 'queued' && job.status !== 'running')) return undefined;
        Object.assign(job, { status, errorCode, finishedAt: new Date() });
        return refundReservation(jobId, 'refund');
      },
      refundSucceeded: async (jobId) => refundReservation(jobId, 'refund'),
      async refundRejectedSet(jobId) {
        let root = jobs.get(jobId)!;
        while (root.parentJobId && jobs.get(root.parentJobId)?.kind === 'portrait') root = jobs.get(root.parentJobId)!;
        const family = new Set([root.id]);
        for (let grew = true; grew; ) {
          grew = false;
          for (const j of jobs.values()) if (j.parentJobId && family.has(j.parentJobId) && !family.has(j.id)) grew = Boolean(family.add(j.id));
        }
        const refunded = ledger.some((e) => e.reason === 'refund' && e.jobId && family.has(e.jobId) && jobs.get(e.jobId)!.status === 'succeeded');
        return refunded ? 0 : refundReservation(jobId, 'refund');
      },
      recentMeanSeconds: async () => undefined,
      async markDelivered(jobId) {
        jobs.get(jobId)!.deliveredAt ??= new Date();
      },
      async markUndeliverable(jobId, reason) {
        const job = jobs.get(jobId)!;
        job.undeliveredReason ??= reason;
        job.deliveredAt ??= new Date();
      },
    },
    results: {
      ofJob: async (jobId) => [...results.values()].filter((r) => r.jobId === jobId).sort((a, b) => a.variant - b.variant),
      async withJob(resultId) {
        const result = results.get(resultId);
        return result ? { result: { ...result }, job: structuredClone(jobs.get(result.jobId)!) } : undefined;
      },
      shownBy: async (key) => [...results.values()].filter((r) => r.platformMessageId === key).sort((a, b) => a.variant - b.variant),
      async recordShown(resultId, key) {
        results.get(resultId)!.platformMessageId = key;
      },
      async recordVerdict(jobId, verdict) {
        for (const r of results.values()) if (r.jobId === jobId) r.verdict = verdict;
      },
    },
    ledger: {
      balance: async (accountId, freeDaily, day) => balanceOf(accountId, freeDaily, day),
      async grant(accountId, amount, _note, idempotencyKey) {
        if (grantKeys.has(idempotencyKey)) return false;
        grantKeys.add(idempotencyKey);
        ledger.push({ accountId, delta: amount, reason: 'grant', pocket: 'paid' });
        return true;
      },
    },
    links: {
      createCode: async () => Promise.reject(new Error('linking is not kept in memory: see test/integration/link.test.ts')),
      redeem: async () => Promise.reject(new Error('linking is not kept in memory: see test/integration/link.test.ts')),
    },
    forget: {
      forget: async () => Promise.reject(new Error('forgetting is not kept in memory: see test/integration/forget.test.ts')),
      markFilesErased: async () => undefined,
    },
    reports: {
      usage: async () => Promise.reject(new Error('reports are not kept in memory: see test/integration/admin-stats.test.ts')),
      likenessAgreement: async () => Promise.reject(new Error('reports are not kept in memory: see test/integration/admin-stats.test.ts')),
    },
  };

  /** A finished portrait set of `variants` results, as a GPU worker leaves it, for reaction tests. */
  function finishJob(jobId: string, variants: number): Result[] {
    const job = jobs.get(jobId)!;
    Object.assign(job, { status: 'succeeded', startedAt: new Date(), finishedAt: new Date() });
    return Array.from({ length: variants }, (_, variant) => {
      const result: Result = {
        id: randomUUID(),
        jobId,
        variant,
        artifactKey: `results/${jobId}/${variant}.jpg`,
        width: 1024,
        height: 1280,
        bytes: 1000,
        platformMessageId: null,
        likenessScore: null,
        verdict: null,
        purgedAt: null,
        createdAt: new Date(),
      };
      results.set(result.id, result);
      return result;
    });
  }

  const spent = (accountId: string) => 0 - ledger.filter((e) => e.accountId === accountId).reduce((n, e) => n + e.delta, 0);
  return { repos, accounts, jobs, results, ledger, finishJob, spent };
}

/** The GPU queue in memory: a line of job ids. `onEnqueue` lets a test play a worker that is very fast. */
export function createMemoryQueue(onEnqueue?: (jobId: string) => void): WorkQueue & { line: string[] } {
  const line: string[] = [];
  return {
    line,
    async enqueue(_kind, jobId) {
      if (!line.includes(jobId)) line.push(jobId);
      onEnqueue?.(jobId);
      return line.indexOf(jobId) + 1;
    },
    position: async (jobId) => line.indexOf(jobId) + 1,
    async remove(jobId) {
      const at = line.indexOf(jobId);
      if (at >= 0) line.splice(at, 1);
      return at >= 0;
    },
    cancelRunning: async () => undefined,
    workers: async () => 1,
  };
}

/** The artifact store in memory, with the contract of the fs and S3 stores. */
export function createMemoryStore(): ArtifactStore & { objects: Map<string, Buffer> } {
  const objects = new Map<string, Buffer>();
  const bytesOf = (key: string) => {
    const bytes = objects.get(key);
    if (!bytes) throw new ArtifactNotFoundError(key);
    return bytes;
  };
  return {
    objects,
    put: async (key, bytes) => void objects.set(key, bytes),
    get: async (key) => bytesOf(key),
    stat: async (key) => ({ size: bytesOf(key).byteLength }),
    async getStream(key) {
      const bytes = bytesOf(key);
      return { size: bytes.byteLength, body: Readable.from([bytes]) };
    },
    exists: async (key) => objects.has(key),
    delete: async (key) => void objects.delete(key),
    async deletePrefix(prefix) {
      for (const key of objects.keys()) if (key.startsWith(prefix)) objects.delete(key);
    },
  };
}

/** What a person saw in the chat: every status post and edit, and every set of pictures. */
export interface ChatEvent {
  what: 'post' | 'edit' | 'results' | 'told' | 'deleted';
  text: string;
  conversation?: Conversation;
  stage?: StatusContext['stage'];
  buttons?: Reply['buttons'];
}

/**
 * A chat platform in memory. Statuses are numbered messages; `closed` makes the chat refuse
 * everything for good (a blocked bot), `privateChat` says whether the person can still be reached.
 */
export function createMemoryChat(photos: Map<string, Buffer> = new Map()) {
  const events: ChatEvent[] = [];
  const statuses = new Map<string, string>();
  const settings = { closed: false, privateChat: true };
  let seq = 0;
  const refuseIfClosed = () => {
    if (settings.closed) throw new UndeliverableError('memory chat: the bot was blocked');
  };
  const chat: ChatPort = {
    platform: 'telegram',
    status: {
      async post(conversation, reply, { stage }) {
        refuseIfClosed();
        const id = `m${++seq}`;
        statuses.set(id, reply.text);
        events.push({ what: 'post', text: reply.text, conversation, stage, buttons: reply.buttons });
        return id;
      },
      async edit(conversation, reply, { stage }) {
        refuseIfClosed();
        if (!conversation.statusMessageId || !statuses.has(conversation.statusMessageId)) return false;
        statuses.set(conversation.statusMessageId, reply.text);
        events.push({ what: 'edit', text: reply.text, conversation, stage, buttons: reply.buttons });
        return true;
      },
    },
    async postResults(conversation, reply, _jobId, shown) {
      refuseIfClosed();
      for (const index of (reply.images ?? []).keys()) await shown(index, `mem:${conversation.chatId}:${++seq}`);
      events.push({ what: 'results', text: reply.text, conversation, buttons: reply.buttons });
      return { privately: false };
    },
    async tellPrivately(conversation, text) {
      if (!settings.privateChat) return false;
      events.push({ what: 'told', text, conversation });
      return true;
    },
    async deleteMessage(chatId, messageId) {
      events.push({ what: 'deleted', text: `${chatId}:${messageId}` });
    },
    photoSource: (ref: PhotoRef, label: string): PhotoSource => memoryPhoto(photos, String(ref.name), label),
  };
  /** The text a status message shows now. */
  const statusText = (id: string | undefined) => (id ? statuses.get(id) : undefined);
  return { chat, events, settings, statusText };
}

/** A photo the memory chat holds by name: readable again after the terms, like a Telegram file id. */
export function memoryPhoto(photos: Map<string, Buffer>, name: string, label = name): PhotoSource {
  return {
    label,
    declaredBytes: photos.get(name)?.byteLength,
    ref: { name },
    async read() {
      const bytes = photos.get(name);
      if (!bytes) throw new Error(`no photo ${name}`);
      return bytes;
    },
  };
}

/** A command layer on memory ports: every photo has one face (the face models are tested elsewhere). */
export function memoryCommandLayer(repos: Repositories, queue: WorkQueue, store: ArtifactStore): { commands: CommandLayer; held: HeldRequests; deps: CoreDeps } {
  const deps: CoreDeps = {
    repos,
    store,
    gpuQueue: queue,
    styles: createStyleCatalog(),
    config: {
      credits: { freeDaily: 8, prices: { portrait: 4, upscale: 2, restore: 2 }, maxActiveJobsPerUser: 3 },
      photos: { maxBytes: 10 * 1024 * 1024, maxPixels: 50_000_000, requestsPer10Min: 10, maxWaiting: 64 },
      adminIds: [],
      gpu: { backend: 'local', concurrency: 1 },
    },
    logger: createLogger({ level: 'silent' }),
    faceCheck: async (photos) => photos.map((_, i) => ({ photo: i + 1, faces: 1 })),
  };
  return { commands: createCommandLayer(deps), held: createMemoryHeldRequests(), deps };
}
