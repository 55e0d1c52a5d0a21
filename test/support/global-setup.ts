import { prepareDatabase } from '../../src/db/client.js';
import { adminQuery, SERVER_URL, TEMPLATE_DB } from './databases.js';

/** Migrates a template database once per run; each test file clones it in milliseconds. */
export default async function setup(): Promise<void> {
  await adminQuery(`drop database if exists ${TEMPLATE_DB} with (force)`);
  await prepareDatabase(`${SERVER_URL}/${TEMPLATE_DB}`);
}
