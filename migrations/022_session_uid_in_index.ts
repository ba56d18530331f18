import type { Kysely } from 'kysely';

/**
 * The uid of each indexed session: it stays when node-oidc-provider gives the session a new id (every resumed
 * authorization does), so the save under the new id also removes the row of the old one, in one statement.
 * Rows written before have none, and are removed as before, by the purge once they expire.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('oidc_account_index').addColumn('session_uid', 'text').execute();
}
