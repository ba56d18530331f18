import type { Kysely } from 'kysely';

/** Which client each grant belongs to, so that deleting a client revokes its grants and tokens. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('oidc_account_index').addColumn('client_id', 'text').execute();
  await db.schema.createIndex('oidc_account_index_client_idx').on('oidc_account_index').column('client_id').execute();
}
