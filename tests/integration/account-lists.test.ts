import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';

import { listAccounts } from '../../src/accounts/account-query.repository.ts';
import { type Database, migrateDatabase, openDatabase } from '../../src/db/index.ts';
import { backends, createPostgresDatabase } from '../support/idp.ts';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function migratedDatabase(backend: string): Promise<Database> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'idp-account-lists-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  let databaseUrl: string | undefined;
  if (backend !== 'pglite') {
    const created = await createPostgresDatabase();
    cleanups.push(created.drop);
    databaseUrl = created.url;
  }
  const database = await openDatabase({ databaseUrl, dataDir });
  cleanups.push(() => database.close());
  await migrateDatabase(database);
  return database;
}

// The same migrations and queries on the embedded database (pg_trgm loaded into PGlite) and on PostgreSQL.
describe.each(backends.filter((backend) => backend !== 'postgres+redis'))('the users list (%s)', (backend) => {
  it('finds people by any part of their address or name through a trigram index, and pages through all of them once', async () => {
    const database = await migratedDatabase(backend);
    const { db } = database;
    await sql`insert into accounts (email, name, metadata, created_at, updated_at)
      select 'member' || g || '@example.com', case when g % 100 = 7 then 'Ada Lovelace ' || g else 'Someone ' || g end, '{}',
        timestamptz '2026-01-01' + (g / 3) * interval '1 second', now()
      from generate_series(1, 1500) g`.execute(db);
    await sql`analyze accounts`.execute(db);

    const ada = await listAccounts(db, { search: 'lovelace', perPage: 50 });
    expect(ada).toMatchObject({ total: 15, totalExact: true, next: null });
    expect(ada.items.map((item) => item.name)).toEqual(Array.from({ length: 15 }, (_v, i) => `Ada Lovelace ${1407 - i * 100}`));
    const plan = await db.connection().execute(async (connection) => {
      await sql`set enable_seqscan = off`.execute(connection);
      const explained = await sql<{ 'QUERY PLAN': string }>`explain select id from accounts where email ilike '%mber12%' or name ilike '%mber12%'`.execute(connection);
      await sql`reset enable_seqscan`.execute(connection);
      return explained.rows.map((row) => row['QUERY PLAN']).join('\n');
    });
    expect(plan).toContain('accounts_email_trgm_idx');

    // Three accounts share each created_at: pages still neither skip nor repeat anyone, going forward or back.
    const first = await listAccounts(db, { perPage: 400 });
    expect(first.totalExact).toBe(false);
    expect(first.total).toBeGreaterThanOrEqual(1000);
    const seen = first.items.map((item) => item.email);
    let page = first;
    const pages = [first];
    while (page.next) {
      page = await listAccounts(db, { perPage: 400, cursor: page.next });
      pages.push(page);
      seen.push(...page.items.map((item) => item.email));
    }
    expect(seen).toHaveLength(1500);
    expect(new Set(seen).size).toBe(1500);
    expect(seen[0]).toBe('member1500@example.com');
    const back = await listAccounts(db, { perPage: 400, cursor: page.previous! });
    expect(back.items.map((item) => item.email)).toEqual(pages.at(-2)!.items.map((item) => item.email));
  }, 60_000);
});
