import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Admin console sign-ins: the browser's cookie holds a random id, only its SHA-256 is here,
  // so ending a row (sign-out, disable, delete, reset) kills every copy of the cookie.
  await db.schema
    .createTable('console_sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'uuid', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('console_sessions_account').on('console_sessions').column('account_id').execute();
  await db.schema.createIndex('console_sessions_expiry').on('console_sessions').column('expires_at').execute();

  // An address an admin set (at creation as verified, or by changing it) that its owner has not
  // proven: not trusted for linking an upstream identity until the owner verifies it.
  await db.schema.alterTable('accounts').addColumn('email_admin_asserted', 'boolean', (c) => c.notNull().defaultTo(false)).execute();
}
