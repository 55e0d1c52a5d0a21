import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Deliverer } from '../core/deliverer.js';
import type { Reply } from '../core/reply.js';
import type { ArtifactStore } from '../../storage/artifact-store.js';

/** A file the CLI wrote, and the result id to pass to `likeness upscale`. */
export interface WrittenFile {
  path: string;
  resultId?: string;
}

export interface CliOutcome {
  reply: Reply;
  files: WrittenFile[];
}

/**
 * The CLI's "chat": progress goes to `print`, images into the folder named by the conversation's
 * chat id, and whoever waits on a job hears its final outcome.
 */
export function createCliDeliverer(store: ArtifactStore, print: (line: string) => void) {
  const waiting = new Map<string, (outcome: CliOutcome) => void>();
  const finished = new Map<string, CliOutcome>();

  const deliverer: Deliverer = {
    async deliver(conversation, reply, kind, jobId) {
      if (kind === 'progress') {
        print(reply.text);
        return { imageMessageIds: [] };
      }
      await mkdir(conversation.chatId, { recursive: true });
      const files: WrittenFile[] = [];
      for (const image of reply.images ?? []) {
        const path = join(conversation.chatId, image.filename);
        await writeFile(path, await store.get(image.artifactKey));
        files.push({ path, resultId: image.resultId });
      }
      const outcome = { reply, files };
      finished.set(jobId, outcome);
      waiting.get(jobId)?.(outcome);
      return { imageMessageIds: files.map((f) => (f.resultId ? `file:${f.path}` : undefined)) };
    },
  };

  /** Resolves with the job's final delivery (immediately if it already came). */
  const waitFor = (jobId: string): Promise<CliOutcome> =>
    new Promise((resolve) => {
      const done = finished.get(jobId);
      if (done) resolve(done);
      else waiting.set(jobId, resolve);
    });

  return { deliverer, waitFor };
}
