import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('federated_identities')
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('account_id', 'uuid', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('email', 'text')
    .addColumn('linked_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('federated_identities_pkey', ['provider', 'subject'])
    .addUniqueConstraint('federated_identities_account_provider_key', ['account_id', 'provider'])
    .execute();

  await db.schema
    .alterTable('login_history')
    .addColumn('method', 'text', (c) => c.notNull().defaultTo('password'))
    .execute();
}
