import { sql, type Kysely } from 'kysely';

/**
 * Upstream identity providers managed from the admin API and console, beside those of IDENTITY_PROVIDERS_FILE:
 * each entry's settings without its secrets (checked by the same schema as the file's), and its secrets
 * (client_secret, the private JWK of private_key_jwt) sealed with SECRETS_KEY.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('identity_providers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // The order of the "Continue with" buttons, after the file's providers.
    .addColumn('position', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('settings', 'jsonb', (c) => c.notNull())
    .addColumn('client_secret_sealed', 'text')
    .addColumn('private_key_jwt_sealed', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}
