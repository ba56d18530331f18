import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // One-time links in mail: only the SHA-256 of the token is kept.
  await db.schema
    .createTable('email_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'uuid', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('purpose', 'text', (c) => c.notNull().check(sql`purpose in ('verify_email', 'reset_password')`))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('return_to', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('email_tokens_account_idx').on('email_tokens').columns(['account_id', 'purpose']).execute();

  // Sign-in attempts for unknown emails are recorded too, without an account.
  await db.schema.alterTable('login_history').alterColumn('account_id', (c) => c.dropNotNull()).execute();

  // Which sessions and grants belong to an account, whichever store holds them, so they can all be ended.
  await db.schema
    .createTable('oidc_account_index')
    .addColumn('account_id', 'uuid', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz')
    .addPrimaryKeyConstraint('oidc_account_index_pkey', ['model', 'id'])
    .execute();
  await db.schema.createIndex('oidc_account_index_account_idx').on('oidc_account_index').column('account_id').execute();

  // rate-limiter-flexible's table, when Postgres is the limiter store.
  await db.schema
    .createTable('rate_limits')
    .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('points', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expire', 'bigint')
    .execute();
}
