import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * PGlite's Postgres is 9 MB of WebAssembly. V8 compiles it with its baseline compiler (Liftoff), then again,
 * optimized, function by function as they get hot, and keeps both: some 60 MB more resident, for queries that
 * are not measurably faster (one-row lookups: the same speed, measured). Baseline only, for the WebAssembly
 * a process compiles after it is set: the embedded database is the only WebAssembly it runs (argon2 and bcrypt are native).
 */
export const BASELINE_WEBASSEMBLY_ONLY = '--liftoff-only';

/** Runs in the child: PGlite creates the database in the folder (its initdb) and closes it. */
const createInChild = `
const [pglite, folder, startParams] = process.argv.slice(1);
require(pglite).PGlite.create(folder, { startParams: JSON.parse(startParams) })
  .then((db) => db.close())
  .catch((error) => { console.error(error?.message ?? String(error)); process.exit(1); });
`;

/**
 * On the first start PGlite runs Postgres's initdb, which takes some 700 MB (it copies a whole
 * WebAssembly heap of Postgres, more than once); a process does not hand such memory back to the system,
 * so the server would keep it for its whole life. A short-lived process of its own creates the folder
 * instead, and the server then opens it as on any later start.
 */
export async function createPgliteFolderIfMissing(folder: string, startParams: string[]): Promise<void> {
  if (existsSync(path.join(folder, 'PG_VERSION'))) return;
  const pglite = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  try {
    await promisify(execFile)(process.execPath, [BASELINE_WEBASSEMBLY_ONLY, '-e', createInChild, pglite, folder, JSON.stringify(startParams)]);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`Could not create the embedded database in ${folder}${stderr ? `: ${stderr}` : ''}`, { cause: error });
  }
}
