import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { migrateDatabase, openDatabase } from '../../src/db/index.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** What a migrated embedded database is made of: the migrations, the embedded settings and PGlite's version. */
function fingerprint(): string {
  const hash = createHash('sha256');
  const migrations = path.join(root, 'migrations');
  for (const file of readdirSync(migrations).sort()) hash.update(file).update(readFileSync(path.join(migrations, file)));
  hash.update(readFileSync(path.join(root, 'src/db/database.ts')));
  hash.update(readFileSync(path.join(root, 'node_modules/@electric-sql/pglite/package.json')));
  return hash.digest('hex').slice(0, 16);
}

let template: Promise<string> | undefined;

/**
 * A migrated embedded database folder to copy instead of creating one (initdb and every migration: seconds of CPU
 * for each test IdP). Made once per machine and set of migrations, shared by the test processes: built aside and
 * renamed into place, so a process sees a whole template or none.
 */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const folder = path.join(tmpdir(), `idp-test-pgdata-${fingerprint()}`);
    if (existsSync(folder)) return folder;
    const building = mkdtempSync(path.join(tmpdir(), 'idp-test-pgdata-building-'));
    try {
      const database = await openDatabase({ databaseUrl: undefined, dataDir: building });
      await migrateDatabase(database);
      await database.close();
      try {
        renameSync(path.join(building, 'pgdata'), folder);
      } catch (error) {
        // Another test process put its own in place first: the same migrations, so use that one.
        if (!existsSync(folder)) throw error;
      }
      return folder;
    } finally {
      rmSync(building, { recursive: true, force: true });
    }
  })();
  return template;
}

/** Puts a migrated embedded database into DATA_DIR, as a first start would leave it. */
export async function copyMigratedPglite(dataDir: string): Promise<void> {
  cpSync(await migratedTemplate(), path.join(dataDir, 'pgdata'), { recursive: true });
}
