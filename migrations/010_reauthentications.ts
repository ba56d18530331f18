import { sql, type Kysely } from 'kysely';

/**
 * When each IdP session last proved who is signed in (sudo mode): sensitive changes of one's own account
 * need a sign-in or re-authentication within REAUTH_MAX_AGE. Keyed by the session's uid (what tokens
 * name too) and the account; and passkey ceremonies may now be started for a re-authentication.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('reauthentications')
    .addColumn('session_uid', 'text', (c) => c.notNull())
    .addColumn('account_id', 'uuid', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('authenticated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('reauthentications_pkey', ['session_uid', 'account_id'])
    .execute();
  await db.schema.createIndex('reauthentications_age').on('reauthentications').column('authenticated_at').execute();

  await sql`alter table webauthn_challenges drop constraint webauthn_challenges_purpose_check`.execute(db);
  await sql`alter table webauthn_challenges add constraint webauthn_challenges_purpose_check
    check (purpose in ('register', 'second_factor', 'passwordless', 'reauthenticate'))`.execute(db);
}
