import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Migrator, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';

import { migrations } from '../../migrations/index.ts';
import { createAccountService, createPasswordHasher } from '../../src/accounts/index.ts';
import { type Database, migrateDatabase, openDatabase } from '../../src/db/index.ts';
import { createPostgresDatabase } from '../support/idp.ts';

const postgres = process.env.TEST_DATABASE_URL;
const ACCOUNTS = 1_000_000;
const SIGNERS = 20;
const PASSWORD = 'a signer passphrase';
/** A sign-in that waits longer than this for a lock (a table locked for writes by an index build) fails. */
const LOCK_TIMEOUT_MS = 1500;

const cleanups: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function open(databaseUrl: string): Promise<Database> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'idp-index-migration-'));
  const database = await openDatabase({ databaseUrl, dataDir });
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }), () => database.close());
  return database;
}

/** Indexes migration 019 builds, valid (a concurrent build that failed leaves an invalid one). */
async function validIndexes(database: Database): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select c.relname as name from pg_index i join pg_class c on c.oid = i.indexrelid
    where i.indisvalid and c.relname in ('accounts_listed_idx', 'accounts_status_listed_idx', 'accounts_deleted_listed_idx',
      'accounts_email_trgm_idx', 'accounts_name_trgm_idx', 'audit_events_actor_id_idx', 'audit_events_target_id_idx',
      'audit_events_action_id_idx', 'audit_events_actor_kind_id_idx', 'login_history_at_idx', 'oidc_account_index_expires_idx',
      'email_tokens_expires_idx', 'federated_identities_account_idx', 'reauthentications_account_idx')
    order by 1`.execute(database.db);
  return rows.map((row) => row.name);
}

const plan = async (database: Database, query: string) =>
  (await sql<{ 'QUERY PLAN': string }>`explain ${sql.raw(query)}`.execute(database.db)).rows.map((row) => row['QUERY PLAN']).join('\n');

describe.skipIf(!postgres)('index migration on 1,000,000 accounts', () => {
  it('builds its indexes while people sign in, without one failed or stalled sign-in, and the lists use them', async () => {
    const { url, drop } = await createPostgresDatabase();
    cleanups.push(drop);
    const migrating = await open(url);
    const before = await new Migrator({ db: migrating.db, provider: { getMigrations: async () => migrations } }).migrateTo('018_webhooks');
    expect(before.error).toBeUndefined();

    const hasher = createPasswordHasher({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    const hash = await hasher.hash(PASSWORD);
    await sql`insert into accounts (email, name, password_hash, email_verified, metadata, created_at, updated_at)
      select 'person' || g || '@example.com', 'Person ' || g, case when g <= ${SIGNERS} then ${hash} end, true, '{}',
        now() - g * interval '1 minute', now()
      from generate_series(1, ${ACCOUNTS}) g`.execute(migrating.db);
    await sql`analyze accounts`.execute(migrating.db);

    // Sign-ins through another pool, as the nodes already running serve them.
    const signingUrl = new URL(url);
    signingUrl.searchParams.set('options', `-c lock_timeout=${LOCK_TIMEOUT_MS}`);
    const signing = await open(signingUrl.toString());
    const accounts = createAccountService({ db: signing.db, hasher, passwordPolicy: { minLength: 8 } });
    let migrated = false;
    const failures: string[] = [];
    let signIns = 0;
    let slowest = 0;
    const signInUntilMigrated = async (worker: number) => {
      for (let i = 0; !migrated; i += 1) {
        const started = performance.now();
        try {
          await accounts.authenticate(`person${((worker + i * 2) % SIGNERS) + 1}@example.com`, PASSWORD, { ip: '127.0.0.1', userAgent: 'load' });
          signIns += 1;
        } catch (error) {
          failures.push((error as Error).message);
        }
        slowest = Math.max(slowest, performance.now() - started);
      }
    };
    const workers = [signInUntilMigrated(0), signInUntilMigrated(1)];

    try {
      expect(await migrateDatabase(migrating)).toContain('019_scale_indexes');
    } finally {
      migrated = true;
      await Promise.all(workers);
    }
    expect(failures).toEqual([]);
    expect(signIns).toBeGreaterThan(5);
    expect(slowest).toBeLessThan(LOCK_TIMEOUT_MS);
    expect(await validIndexes(migrating)).toHaveLength(14);
    const history = await sql<{ n: string }>`select count(*) as n from login_history where outcome = 'success'`.execute(migrating.db);
    expect(Number(history.rows[0]!.n)).toBe(signIns);

    // The users list reads its index in order, and a search its trigram index: no pass over a million rows.
    const listing = await plan(migrating, 'select id from accounts where deleted_at is null order by created_at desc, id desc limit 50');
    expect(listing).toContain('accounts_listed_idx');
    expect(listing).not.toContain('Seq Scan');
    expect(await plan(migrating, "select id from accounts where email ilike '%person123456%' or name ilike '%person123456%'")).toContain('accounts_email_trgm_idx');
  }, 240_000);

  it('builds again an index an interrupted build left invalid', async () => {
    const { url, drop } = await createPostgresDatabase();
    cleanups.push(drop);
    const database = await open(url);
    await new Migrator({ db: database.db, provider: { getMigrations: async () => migrations } }).migrateTo('018_webhooks');
    await sql`insert into accounts (email, name, metadata) values ('one@example.com', 'Same', '{}'), ('two@example.com', 'Same', '{}')`.execute(database.db);
    // A concurrent build that fails (here: duplicates for a unique index) leaves its index behind, invalid.
    await expect(sql`create unique index concurrently accounts_listed_idx on accounts (name)`.execute(database.db)).rejects.toThrow(/could not create unique index/);
    expect(await validIndexes(database)).not.toContain('accounts_listed_idx');

    expect(await migrateDatabase(database)).toContain('019_scale_indexes');
    expect(await validIndexes(database)).toContain('accounts_listed_idx');
    const definition = await sql<{ def: string }>`select pg_get_indexdef('accounts_listed_idx'::regclass) as def`.execute(database.db);
    expect(definition.rows[0]!.def).toContain('(created_at, id) WHERE (deleted_at IS NULL)');
  });
});
