import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { migrateToLatest, openDatabase, type Database } from '../../src/db/index.ts';

let dataDir: string;
let database: Database;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'idp-embedded-'));
  database = await openDatabase({ databaseUrl: undefined, dataDir });
  await migrateToLatest(database.db);
});
afterAll(async () => {
  await database.close();
  rmSync(dataDir, { recursive: true, force: true });
});

it('keeps a concurrent query out of another request’s transaction on the single PGlite session', async () => {
  const { db } = database;
  const results = await Promise.allSettled([
    db.transaction().execute(async (trx) => {
      await trx.insertInto('roles').values({ name: 'rolled-back', description: 'x' }).execute();
      await new Promise((resolve) => setTimeout(resolve, 50));
      throw new Error('roll back');
    }),
    db.insertInto('roles').values({ name: 'kept', description: 'x' }).execute(),
  ]);
  expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
  const names = (await db.selectFrom('roles').select('name').execute()).map((r) => r.name);
  expect(names).toContain('kept');
  expect(names).not.toContain('rolled-back');
});
