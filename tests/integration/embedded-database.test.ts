import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { migrateToLatest, openDatabase, type Database } from '../../src/db/index.ts';
import { purgeExpiredSqlModels } from '../../src/oidc/adapters/sql.ts';

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

it('reports how many expired sessions and tokens it purged', async () => {
  const { db } = database;
  const row = (id: string, expiresAt: Date | null) => ({ model: 'Session', id, payload: '{}', expires_at: expiresAt });
  await db
    .insertInto('oidc_models')
    .values([row('old-1', new Date(Date.now() - 1000)), row('old-2', new Date(Date.now() - 1)), row('live', new Date(Date.now() + 60_000)), row('forever', null)])
    .execute();
  expect(await purgeExpiredSqlModels(db)).toBe(2);
  const left = (await db.selectFrom('oidc_models').select('id').execute()).map((r) => r.id).sort();
  expect(left).toEqual(['forever', 'live']);
});
