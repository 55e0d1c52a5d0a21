import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export const SERVER_URL = process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';

export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${SERVER_URL}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated database cloned from the template the global setup made. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `likeness_test_${randomBytes(5).toString('hex')}`;
  await adminQuery(`create database ${name} template ${inject('templateDb')}`);
  return {
    url: `${SERVER_URL}/${name}`,
    drop: () => adminQuery(`drop database if exists ${name} with (force)`),
  };
}
