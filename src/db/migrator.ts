import { Migrator, sql, type Kysely, type Migration } from 'kysely';

import { migrations } from '../../migrations/index.ts';
import type { Database } from './database.ts';

export class MigrationError extends Error {}

/**
 * A migration that must not run inside a transaction (it exports `outsideTransaction = true`): `CREATE INDEX
 * CONCURRENTLY` builds an index on a large table without blocking its writes, and PostgreSQL refuses it in a
 * transaction block. Such a migration is run alone, and must be safe to run again after it failed half way.
 */
export interface OutsideTransactionMigration extends Migration {
  readonly outsideTransaction: true;
}

const outsideTransaction = (migration: Migration) => (migration as Partial<OutsideTransactionMigration>).outsideTransaction === true;

/**
 * The PostgreSQL advisory lock that nodes starting together queue on while one of them migrates (and, with
 * ADMIN_EMAIL, creates the first admin). Not Kysely's own migration lock id, which is taken inside this one.
 */
const STARTUP_LOCK_KEY = 1_802_318_218_001n;
/** How often a node waiting for the start-up lock asks again. */
const STARTUP_LOCK_POLL_MS = 250;

function migrator(db: Kysely<any>, options: { disableTransactions?: boolean } = {}): Migrator {
  return new Migrator({ db, provider: { getMigrations: async () => migrations }, ...options });
}

/**
 * Runs of pending migrations, in order: the transactional ones together (one transaction, as Kysely runs them),
 * each outside-transaction one alone.
 */
function batches(pending: string[]): { last: string; inTransaction: boolean }[] {
  const result: { last: string; inTransaction: boolean }[] = [];
  for (const name of pending) {
    const inTransaction = !outsideTransaction(migrations[name]!);
    const previous = result.at(-1);
    if (previous && previous.inTransaction && inTransaction) previous.last = name;
    else result.push({ last: name, inTransaction });
  }
  return result;
}

/** Applies every pending migration in order; returns the names applied now. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const pending = (await migrator(db).getMigrations()).filter((m) => !m.executedAt).map((m) => m.name);
  const applied: string[] = [];
  for (const batch of batches(pending)) {
    const { error, results } = await migrator(db, { disableTransactions: !batch.inTransaction }).migrateTo(batch.last);
    applied.push(...(results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName));
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      throw new MigrationError(`Migration ${failed} failed: ${(error as Error).message ?? error}`, { cause: error });
    }
  }
  return applied;
}

/**
 * Runs `work` while holding the start-up lock, so any number of nodes (and one-off jobs) starting at once take
 * turns: on PostgreSQL a session advisory lock on one pooled connection; the embedded database needs none (its
 * DATA_DIR admits one process). The lock is released when `work` ends, however it ends.
 *
 * A waiting node asks again and again (pg_try_advisory_lock) rather than waiting inside one statement: a
 * statement that waits holds a snapshot, and `CREATE INDEX CONCURRENTLY` in the migrating node waits for every
 * older snapshot to end, so the two would wait for each other forever.
 */
export async function underStartupLock<T>(database: Pick<Database, 'db' | 'embedded'>, work: () => Promise<T>): Promise<T> {
  if (database.embedded) return work();
  return database.db.connection().execute(async (connection) => {
    while (!(await sql<{ locked: boolean }>`select pg_try_advisory_lock(${STARTUP_LOCK_KEY}) as locked`.execute(connection)).rows[0]!.locked) {
      await new Promise((resolve) => setTimeout(resolve, STARTUP_LOCK_POLL_MS));
    }
    try {
      return await work();
    } finally {
      await sql`select pg_advisory_unlock(${STARTUP_LOCK_KEY})`.execute(connection);
    }
  });
}

/** migrateToLatest under the start-up lock: safe with any number of nodes starting together. */
export function migrateDatabase(database: Pick<Database, 'db' | 'embedded'>): Promise<string[]> {
  return underStartupLock(database, () => migrateToLatest(database.db));
}

/** True while a migration known to this build is not applied yet (for readiness checks). */
export async function hasPendingMigrations(db: Kysely<any>): Promise<boolean> {
  return (await migrator(db).getMigrations()).some((m) => !m.executedAt);
}

