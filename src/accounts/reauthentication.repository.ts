import { sql, type Kysely } from 'kysely';

import type { DB } from '../db/index.ts';

/** Records that this session proved who is signed in, now; older proofs of the account are let go. */
export async function recordReauthentication(db: Kysely<DB>, sessionUid: string, accountId: string): Promise<void> {
  await db
    .insertInto('reauthentications')
    .values({ session_uid: sessionUid, account_id: accountId, authenticated_at: sql`now()` })
    .onConflict((oc) => oc.columns(['session_uid', 'account_id']).doUpdateSet({ authenticated_at: sql`now()` }))
    .execute();
  await db.deleteFrom('reauthentications').where('account_id', '=', accountId).where('authenticated_at', '<', sql<Date>`now() - interval '1 day'`).execute();
}

/** Whether this session re-authenticated within the last `maxAgeSeconds` (the database's clock decides). */
export async function reauthenticatedWithin(db: Kysely<DB>, sessionUid: string, accountId: string, maxAgeSeconds: number): Promise<boolean> {
  const row = await db
    .selectFrom('reauthentications')
    .select('session_uid')
    .where('session_uid', '=', sessionUid)
    .where('account_id', '=', accountId)
    .where('authenticated_at', '>', sql<Date>`now() - make_interval(secs => ${maxAgeSeconds})`)
    .executeTakeFirst();
  return row !== undefined;
}
