import type { TestProject } from 'vitest/node';
import { prepareDatabase } from '../../src/db/client.js';
import { adminQuery, SERVER_URL } from './databases.js';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDb: string;
  }
}

/**
 * Migrates a template database once per run; each test file clones it in milliseconds. The name is
 * per run, so two runs on one machine never drop each other's template.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const templateDb = `likeness_test_template_${process.pid}`;
  await adminQuery(`drop database if exists ${templateDb} with (force)`);
  await prepareDatabase(`${SERVER_URL}/${templateDb}`);
  project.provide('templateDb', templateDb);
  return () => adminQuery(`drop database if exists ${templateDb} with (force)`);
}
