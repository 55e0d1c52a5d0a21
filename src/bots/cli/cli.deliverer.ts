import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import type { ChatPort } from '../core/deliverer.js';
import type { Reply } from '../core/reply.js';

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
  const finish = (jobId: string, outcome: CliOutcome) => {
    finished.set(jobId, outcome);
    waiting.get(jobId)?.(outcome);
  };

  const deliverer: ChatPort = {
    platform: 'cli',
    status: {
      async post(_conversation, reply, context) {
        if (context.stage === 'outcome' && context.jobId) finish(context.jobId, { reply, files: [] });
        else print(reply.text);
        return undefined;
      },
      async edit(_conversation, reply, context) {
        if (context.stage === 'progress') print(reply.text);
        else if (context.stage === 'outcome' && context.jobId) finish(context.jobId, { reply, files: [] });
        // The terminal has no status line to rewrite; the final outcome is printed whole by its waiter.
        return context.stage !== 'answer';
      },
    },
    async postResults(conversation, reply, jobId, shown) {
      await mkdir(conversation.chatId, { recursive: true });
      const files: WrittenFile[] = [];
      for (const [index, image] of (reply.images ?? []).entries()) {
        const path = join(conversation.chatId, image.filename);
        await writeFile(path, await store.get(image.artifactKey));
        files.push({ path, resultId: image.resultId });
        await shown(index, `file:${path}`);
      }
      finish(jobId, { reply, files });
      return { privately: false };
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
