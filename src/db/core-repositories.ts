import type { Repositories } from '../bots/core/repositories.js';
import { findAccountByIdentity, recordConsent, resolveAccount, setBanned } from './accounts.repository.js';
import type { Db } from './client.js';
import { forgetAccount } from './forget.repository.js';
import { checkSubmission, createJobWithReservation } from './job-submission.repository.js';
import { activeJobsOf, endJobWithRefund, getJob, getJobByKey, markDelivered, markUndeliverable, recentJobsOf, recentMeanSeconds, refundRejectedSet, refundSucceededJob } from './jobs.repository.js';
import { currentBalance, grantCredits } from './ledger.repository.js';
import { likenessAgreement, recordVerdict } from './likeness.repository.js';
import { createLinkCode, redeemLinkCode } from './link.repository.js';
import { findResultsByMessage, getResultWithJob, resultsOfJob, setResultMessage } from './results.repository.js';
import { markDetachedJobsPurged } from './retention.repository.js';
import { usageReport } from './usage.repository.js';

/**
 * The command layer's repositories on Postgres: each port method is one of this folder's functions,
 * bound to `db`. `tombstoneKey` keys the hashes that forgotten identities are kept under.
 */
export function createRepositories(db: Db, options: { tombstoneKey: string }): Repositories {
  const tombstones = { key: options.tombstoneKey };
  return {
    accounts: {
      resolve: (user) => resolveAccount(db, user, tombstones),
      find: (user) => findAccountByIdentity(db, user),
      recordConsent: (accountId, at) => recordConsent(db, accountId, at),
      setBanned: (accountId, banned, reason) => setBanned(db, accountId, banned, reason),
    },
    submissions: {
      check: (accountId, key, price, rules, now) => checkSubmission(db, accountId, key, price, rules, now),
      create: (job, rules, now) => createJobWithReservation(db, job, rules, now),
    },
    jobs: {
      get: (jobId) => getJob(db, jobId),
      getByKey: (key) => getJobByKey(db, key),
      activeOf: (accountId) => activeJobsOf(db, accountId),
      recentOf: (accountId, limit) => recentJobsOf(db, accountId, limit),
      endWithRefund: (jobId, status, code) => endJobWithRefund(db, jobId, status, code),
      refundSucceeded: (jobId) => refundSucceededJob(db, jobId),
      refundRejectedSet: (jobId) => refundRejectedSet(db, jobId),
      recentMeanSeconds: (kind) => recentMeanSeconds(db, kind),
      markDelivered: (jobId) => markDelivered(db, jobId),
      markUndeliverable: (jobId, reason) => markUndeliverable(db, jobId, reason),
    },
    results: {
      ofJob: (jobId) => resultsOfJob(db, jobId),
      withJob: (resultId) => getResultWithJob(db, resultId),
      shownBy: (messageKey) => findResultsByMessage(db, messageKey),
      recordShown: (resultId, messageKey) => setResultMessage(db, resultId, messageKey),
      recordVerdict: async (jobId, verdict) => void (await recordVerdict(db, jobId, verdict)),
    },
    ledger: {
      balance: (accountId, freeDaily, day) => currentBalance(db, accountId, freeDaily, day),
      grant: (accountId, amount, note, idempotencyKey) => grantCredits(db, accountId, amount, note, idempotencyKey),
    },
    links: {
      createCode: (accountId, code, expiresAt) => createLinkCode(db, accountId, code, expiresAt),
      redeem: (code, accountId, now, confirmation) => redeemLinkCode(db, code, accountId, now, confirmation),
    },
    forget: {
      forget: (accountId) => forgetAccount(db, accountId, tombstones),
      markFilesErased: (jobIds) => markDetachedJobsPurged(db, jobIds),
    },
    reports: {
      usage: (since) => usageReport(db, since),
      likenessAgreement: (since, threshold) => likenessAgreement(db, since, threshold),
    },
  };
}
