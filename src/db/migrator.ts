import { Migrator, type Kysely } from 'kysely';

import { migrations } from '../../migrations/index.ts';

export class MigrationError extends Error {}

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

/** True while a migration known to this build is not applied yet (for readiness checks). */
export async function hasPendingMigrations(db: Kysely<any>): Promise<boolean> {
  return (await migrator(db).getMigrations()).some((m) => !m.executedAt);
}
