import { Migrator, sql, type Kysely } from 'kysely';

import { migrations } from '../../migrations/index.ts';
import type { Database } from './database.ts';

export class MigrationError extends Error {}

/**
 * The PostgreSQL advisory lock that nodes starting together queue on while one of them migrates (and, with
 * ADMIN_EMAIL, creates the first admin). Not Kysely's own migration lock id, which is taken inside this one.
 */
const STARTUP_LOCK_KEY = 1_802_318_218_001n;

function migrator(db: Kysely<any>): Migrator {
  return new Migrator({ db, provider: { getMigrations: async () => migrations } });
}

/** Applies every pending migration in order; returns the names applied now. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const { error, results } = await migrator(db).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new MigrationError(`Migration ${failed} failed: ${(error as Error).message ?? error}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Runs `work` while holding the start-up lock, so any number of nodes (and one-off jobs) starting at once take
 * turns: on PostgreSQL a session advisory lock on one pooled connection; the embedded database needs none (its
 * DATA_DIR admits one process). The lock is released when `work` ends, however it ends.
 */
export async function underStartupLock<T>(database: Pick<Database, 'db' | 'embedded'>, work: () => Promise<T>): Promise<T> {
  if (database.embedded) return work();
  return database.db.connection().execute(async (connection) => {
    await sql`select pg_advisory_lock(${STARTUP_LOCK_KEY})`.execute(connection);
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
