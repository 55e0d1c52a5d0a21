/**
 * The architecture check that `npm run lint` runs (eslint.config.js): these prove it fails on the
 * imports it exists to stop, and passes on the ones the design allows.
 */
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd: root });

async function refusals(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}/${file}` });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('the architecture check', () => {
  it('refuses a chat adapter that imports src/db', async () => {
    for (const adapter of ['telegram', 'discord', 'cli']) {
      const found = await refusals(`src/bots/${adapter}/new-thing.ts`, "import { getJob } from '../../db/jobs.repository.js';\nexport const a = getJob;\n");
      expect(found, adapter).toEqual([expect.stringContaining('ports in src/bots/core/repositories.ts')]);
    }
  });

  it('refuses the command layer importing src/db, even for a type', async () => {
    expect(await refusals('src/bots/core/new-thing.ts', "import type { Job } from '../../db/schema.js';\nexport type A = Job;\n")).toHaveLength(1);
  });

  it('refuses src/jobs importing src/bots', async () => {
    expect(await refusals('src/jobs/new-thing.ts', "import { helpText } from '../bots/core/command-catalog.js';\nexport const a = helpText;\n")).toEqual([
      expect.stringContaining('must not depend on the chat side'),
    ]);
  });

  it('allows what the design allows: the core on its own ports, jobs on the database, src/db implementing the ports', async () => {
    expect(await refusals('src/bots/telegram/new-thing.ts', "import type { ChatPort } from '../core/deliverer.js';\nexport type A = ChatPort;\n")).toEqual([]);
    expect(await refusals('src/jobs/new-thing.ts', "import { getJob } from '../db/jobs.repository.js';\nexport const a = getJob;\n")).toEqual([]);
    expect(await refusals('src/db/new-thing.ts', "import type { Repositories } from '../bots/core/repositories.js';\nexport type A = Repositories;\n")).toEqual([]);
  });
});
