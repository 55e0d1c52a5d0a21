import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { App } from '../../app.js';
import { catalogEntry } from '../core/command-catalog.js';
import { CONSENT_TEXT } from '../core/messages.js';
import { readLimited } from '../../net/read-limited.js';
import type { Reply } from '../core/reply.js';
import type { CommandName, PhotoSource, Request } from '../core/request.js';
import { createCliDeliverer } from './cli.deliverer.js';

/** A photo on disk, read with the byte limit enforced while reading. */
export function fileSource(path: string): PhotoSource {
  return {
    label: basename(path),
    read: async (maxBytes) => {
      const info = await stat(path);
      if (!info.isFile()) throw new Error(`${path} is not a file`);
      return readLimited(createReadStream(path), maxBytes);
    },
  };
}

export interface CliRequest {
  command: CommandName;
  photos?: string[];
  options?: Record<string, string | boolean | undefined>;
  target?: string;
  outDir: string;
  user: string;
  /** Run a GPU worker in this process (default), or rely on running `likeness worker` processes. */
  inProcessWorker?: boolean;
}

export interface CliIo {
  print(line: string): void;
  printError(line: string): void;
}

/**
 * The local front-end: the same command layer, queue and workers as a chat, with the terminal as
 * the conversation and a folder as the place results are delivered. Returns the exit code.
 */
export async function runCliRequest(app: App, input: CliRequest, io: CliIo): Promise<number> {
  const { deliverer, waitFor } = createCliDeliverer(app.store, io.print);
  // Work needs workers to see it through.
  if (catalogEntry(input.command).queuesWork) {
    if (input.inProcessWorker !== false) app.startGpuWorker();
    app.startDeliveryWorker(new Map([['cli', deliverer]]));
  }

  const request = (): Request => ({
    platform: 'cli',
    eventId: randomUUID(),
    user: { id: input.user },
    conversation: { platform: 'cli', chatId: resolve(input.outDir) },
    command: input.command,
    photos: input.photos?.map(fileSource),
    options: input.options,
    target: input.target,
  });

  let reply = await app.commands.handle(request());
  if (reply.code === 'CONSENT_REQUIRED') {
    // Running the CLI is the operator's own act: show the terms once and record the agreement.
    io.print(`${CONSENT_TEXT}\n(Running this command means you agree.)\n`);
    await app.commands.handle({ ...request(), command: 'consent', photos: undefined });
    reply = await app.commands.handle(request());
  }
  if (reply.tone === 'error') {
    io.printError(reply.text);
    return 1;
  }
  io.print(reply.text);
  if (!reply.job) return 0;

  const outcome = await waitFor(reply.job.id);
  return printOutcome(outcome.reply, outcome.files, io);
}

function printOutcome(reply: Reply, files: { path: string; resultId?: string }[], io: CliIo): number {
  if (reply.tone === 'error') {
    io.printError(reply.text);
    return 1;
  }
  io.print(reply.text);
  for (const file of files) io.print(file.resultId ? `  ${file.path}   (result ${file.resultId})` : `  ${file.path}`);
  const first = files.find((f) => f.resultId);
  if (first && reply.buttons?.some((row) => row.some((b) => b.command === 'upscale'))) {
    io.print(`\nFor an 8K version: likeness upscale ${first.resultId} --out ${resolveOutHint(first.path)}`);
  }
  return 0;
}

const resolveOutHint = (path: string) => path.slice(0, path.lastIndexOf('/')) || '.';
