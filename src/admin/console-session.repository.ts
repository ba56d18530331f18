import { createHash, randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';

import type { DB } from '../db/index.ts';

const hashOf = (id: string) => createHash('sha256').update(id).digest('hex');

/** Starts a console session; returns the random id for the cookie (only its SHA-256 is stored). Expired rows go now too. */
export async function insertConsoleSession(db: Kysely<DB>, accountId: string, ttlMs: number): Promise<string> {
  const id = randomBytes(32).toString('base64url');
  await db.deleteFrom('console_sessions').where('expires_at', '<=', sql<Date>`now()`).execute();
  await db
    .insertInto('console_sessions')
    .values({ id_hash: hashOf(id), account_id: accountId, expires_at: new Date(Date.now() + ttlMs) })
    .execute();
  return id;
}

/** The account of a live (unexpired) console session, marking it seen; undefined for an unknown or expired id. */
export async function touchConsoleSession(db: Kysely<DB>, id: string): Promise<string | undefined> {
  const row = await db
    .updateTable('console_sessions')
    .set({ last_seen_at: sql`now()` })
    .where('id_hash', '=', hashOf(id))
    .where('expires_at', '>', sql<Date>`now()`)
    .returning('account_id')
    .executeTakeFirst();
  return row?.account_id;
}

export async function deleteConsoleSession(db: Kysely<DB>, id: string): Promise<void> {
  await db.deleteFrom('console_sessions').where('id_hash', '=', hashOf(id)).execute();
}

/** Ends every console session of the account; returns how many there were. */
export async function deleteConsoleSessionsOf(db: Kysely<DB>, accountId: string): Promise<number> {
  const result = await db.deleteFrom('console_sessions').where('account_id', '=', accountId).executeTakeFirst();
  return Number(result.numDeletedRows);
}
