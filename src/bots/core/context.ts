import type { Config } from '../../config.js';
import type { Db } from '../../db/client.js';
import type { Account } from '../../db/schema.js';
import type { StyleCatalog } from '../../gpu/styles.js';
import type { GpuQueue } from '../../jobs/gpu-queue.js';
import type { Logger } from '../../logger.js';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import type { FaceCount } from './photo-intake.js';
import type { Reply } from './reply.js';
import type { Request } from './request.js';

/** What the command layer needs from the rest of the system: a narrow set of ports. */
export interface CoreDeps {
  db: Db;
  store: ArtifactStore;
  gpuQueue: GpuQueue;
  styles: StyleCatalog;
  config: Pick<Config, 'credits' | 'photos' | 'adminIds'> & Partial<Pick<Config, 'likeness'>> & { gpu: Pick<Config['gpu'], 'backend' | 'concurrency'> };
  logger: Logger;
  now?: () => Date;
  /** The portrait face check (default: BlazeFace in process); a port so benchmarks can isolate orchestration. */
  faceCheck?: FaceCheck;
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
