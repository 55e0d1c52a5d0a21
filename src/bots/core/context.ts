import type { Config } from '../../config.js';
import type { StyleCatalog } from '../../gpu/styles.js';
import type { Logger } from '../../logger.js';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import type { Account, JobKind } from './model.js';
import type { IntakeLimit } from './intake-limit.js';
import type { FaceCount } from './photo-intake.js';
import type { Repositories } from './repositories.js';
import type { Reply } from './reply.js';
import type { Request } from './request.js';

/** The command layer's view of the GPU queue (BullMQ's `gpu` queue implements it). Enqueueing one job id twice is a no-op. */
export interface WorkQueue {
  /** Adds the job and returns its place in line right after. */
  enqueue(kind: JobKind, jobId: string): Promise<number>;
  /** 1-based place in line of a waiting job; 0 once it runs or is gone. */
  position(jobId: string): Promise<number>;
  /** Removes a job that has not started; false when it is running or gone. */
  remove(jobId: string): Promise<boolean>;
  /** Asks whichever worker runs the job to abort it (its status must already say cancelled). */
  cancelRunning(jobId: string): Promise<void>;
  /** Workers listening (at least 1, for estimates). */
  workers(): Promise<number>;
}

/** What the command layer needs from the rest of the system: a narrow set of ports. */
export interface CoreDeps {
  repos: Repositories;
  store: ArtifactStore;
  gpuQueue: WorkQueue;
  styles: StyleCatalog;
  config: Pick<Config, 'credits' | 'photos' | 'adminIds'> & Partial<Pick<Config, 'likeness'>> & { gpu: Pick<Config['gpu'], 'backend' | 'concurrency'> };
  logger: Logger;
  now?: () => Date;
  /** The portrait face check (default: BlazeFace in process); a port so benchmarks can isolate orchestration. */
  faceCheck?: FaceCheck;
  /** Each person's photo requests per window, checked before any download (absent: no limit). */
  intakeLimit?: IntakeLimit;
}

export type FaceCheck = (photos: readonly Buffer[]) => Promise<FaceCount[]>;

/** One request being handled: the deps, the request and the requester's account. */
export interface CommandContext {
  deps: CoreDeps;
  request: Request;
  account: Account;
  logger: Logger;
  now: Date;
}

export type CommandHandler = (ctx: CommandContext) => Promise<Reply>;
