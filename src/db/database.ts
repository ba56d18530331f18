import path from 'node:path';
import v8 from 'node:v8';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

import { lockDataDir } from './data-dir-lock.ts';
import { listenForNotices, type NoticeHandlers } from './notice-listener.ts';
import { BASELINE_WEBASSEMBLY_ONLY, createPgliteFolderIfMissing } from './pglite-initdb.ts';
import type { DB } from './schema.ts';

export interface Database {
  db: Kysely<DB>;
  embedded: boolean;
  /** The pg pool behind db, for libraries that speak pg themselves (rate limiting); absent when embedded. */
  pool?: pg.Pool;
  /**
   * Hands each NOTIFY on `channel` to `handlers` (on PostgreSQL over a connection of its own, which is
   * re-established after a drop; embedded, in this process). Returns the function that stops it.
   */
  listen(channel: string, handlers: NoticeHandlers, onError?: (error: Error) => void): () => Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  /** An idle pooled connection failed (Postgres restarted, connection killed); the pool replaces it. */
  onIdleConnectionError?: (error: Error) => void;
}

/**
 * PGlite's Postgres keeps its shared buffers in the process's memory (Postgres's default: 128 MB, all of it
 * resident once touched). The embedded database is small and its sessions and tokens are read from memory
 * (EmbeddedRowCache), so 16 MB hold what is read; the files stay in the operating system's page cache.
 */
const EMBEDDED_SETTINGS = ['-c', 'shared_buffers=16MB'];

/** Postgres through a pg Pool when databaseUrl is set, else PGlite in dataDir (locked to this process). */
export async function openDatabase({ databaseUrl, dataDir, onIdleConnectionError }: DatabaseOptions): Promise<Database> {
  if (databaseUrl) {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, connectionTimeoutMillis: 5000 });
    // Without a listener, pg rethrows an idle connection's error and the process dies.
    pool.on('error', (error) => onIdleConnectionError?.(error));
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      embedded: false,
      pool,
      listen: (channel, handlers, onError) => listenForNotices(databaseUrl, channel, handlers, { onError }),
      close: () => db.destroy(),
    };
  }

  const unlock = lockDataDir(dataDir);
  try {
    v8.setFlagsFromString(BASELINE_WEBASSEMBLY_ONLY);
    // Loaded only here: a node on PostgreSQL never holds the embedded database's code.
    const [{ PGlite }, { pg_trgm }, { PGliteDialect }] = await Promise.all([
      import('@electric-sql/pglite'),
      import('@electric-sql/pglite/contrib/pg_trgm'),
      import('./pglite-dialect.ts'),
    ]);
    const folder = path.join(dataDir, 'pgdata');
    const startParams = [...PGlite.defaultStartParams, ...EMBEDDED_SETTINGS];
    await createPgliteFolderIfMissing(folder, startParams);
    // pg_trgm: the trigram index behind the admin's substring search (migration 019).
    const pglite = await PGlite.create(folder, { startParams, extensions: { pg_trgm } });
    const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
    return {
      db,
      embedded: true,
      listen(channel, handlers, onError) {
        // In this process: a notice comes while the statement that caused it is answered, and never goes missing.
        const listening = pglite.listen(channel, handlers.notice).then(
          (unlisten) => {
            handlers.following(true);
            return unlisten;
          },
          (error: Error) => {
            onError?.(error);
            return undefined;
          },
        );
        return async () => {
          handlers.following(false);
          await (await listening)?.();
        };
      },
      async close() {
        try {
          await db.destroy();
        } finally {
          unlock();
        }
      },
    };
  } catch (error) {
    unlock();
    throw error;
  }
}
