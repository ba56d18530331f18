import { sql, type Kysely } from 'kysely';

/** Passkeys (WebAuthn credentials) of accounts, and the challenges of ceremonies in progress. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('webauthn_credentials')
    // The credential ID the authenticator chose, base64url: what a sign-in names.
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'uuid', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    // COSE public key, base64url.
    .addColumn('public_key', 'text', (c) => c.notNull())
    // The signature counter last seen: a lower one means a cloned authenticator (0 for those that keep none).
    .addColumn('counter', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('transports', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('webauthn_credentials_account').on('webauthn_credentials').column('account_id').execute();

  // One row per ceremony started; the browser holds a random key to it in a cookie, only its hash is here.
  await db.schema
    .createTable('webauthn_challenges')
    .addColumn('key_hash', 'text', (c) => c.primaryKey())
    .addColumn('challenge', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull().check(sql`purpose in ('register', 'second_factor', 'passwordless')`))
    // Registration and the second step: the account it is for. Passwordless: null (the passkey tells).
    .addColumn('account_id', 'uuid', (c) => c.references('accounts.id').onDelete('cascade'))
    // Sign-in: the interaction it was started in.
    .addColumn('interaction_uid', 'text')
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('webauthn_challenges_expiry').on('webauthn_challenges').column('expires_at').execute();
}
