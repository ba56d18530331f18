import { type Kysely, sql } from 'kysely';

/**
 * Indexes that keep the admin console, the admin API and the retention jobs fast with millions of rows. Built
 * with CREATE INDEX CONCURRENTLY, which PostgreSQL runs only outside a transaction, so sign-ins keep writing
 * to these tables while they build (src/db/migrator.ts runs this migration alone, without a transaction).
 */
export const outsideTransaction = true;

/**
 * One index, built without blocking writes. An index an earlier attempt left invalid (it failed half way) is
 * dropped first, so the migration simply runs again.
 */
async function createIndexConcurrently(db: Kysely<any>, name: string, definition: string): Promise<void> {
  const { rows } = await sql<{ valid: boolean }>`
    select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid
    where c.relname = ${name} and c.relnamespace = current_schema()::regnamespace`.execute(db);
  if (rows[0] && !rows[0].valid) await sql`drop index concurrently if exists ${sql.id(name)}`.execute(db);
  await sql`create index concurrently if not exists ${sql.id(name)} on ${sql.raw(definition)}`.execute(db);
}

export async function up(db: Kysely<any>): Promise<void> {
  // Substring search on email and name (ILIKE '%…%'); the embedded database loads pg_trgm too (src/db/database.ts).
  await sql`create extension if not exists pg_trgm`.execute(db);

  // The users list, newest first, read page after page by (created_at, id): all, by status, the deleted.
  await createIndexConcurrently(db, 'accounts_listed_idx', 'accounts (created_at, id) where deleted_at is null');
  await createIndexConcurrently(db, 'accounts_status_listed_idx', 'accounts (status, created_at, id) where deleted_at is null');
  await createIndexConcurrently(db, 'accounts_deleted_listed_idx', 'accounts (created_at, id) where deleted_at is not null');
  await createIndexConcurrently(db, 'accounts_email_trgm_idx', 'accounts using gin (email gin_trgm_ops)');
  await createIndexConcurrently(db, 'accounts_name_trgm_idx', 'accounts using gin (name gin_trgm_ops)');

  // A person's page (their linked accounts), and the rows an account's removal deletes with it (its foreign keys).
  await createIndexConcurrently(db, 'federated_identities_account_idx', 'federated_identities (account_id)');
  await createIndexConcurrently(db, 'reauthentications_account_idx', 'reauthentications (account_id)');

  // The audit log, newest first (by id), filtered by actor, target or action; and the command line's events.
  await createIndexConcurrently(db, 'audit_events_actor_id_idx', 'audit_events (actor_id, id)');
  await createIndexConcurrently(db, 'audit_events_target_id_idx', 'audit_events (target_id, id)');
  await createIndexConcurrently(db, 'audit_events_action_id_idx', 'audit_events (action, id)');
  await createIndexConcurrently(db, 'audit_events_actor_kind_id_idx', 'audit_events (actor_kind, id) where actor_kind is not null');
  // Replaced by audit_events_actor_id_idx (its first column).
  await sql`drop index concurrently if exists audit_events_actor_idx`.execute(db);

  // Retention: old sign-in history, expired account-index rows and one-time tokens are removed by age.
  // (audit_events_at_idx and oidc_models_expires_idx exist already.)
  await createIndexConcurrently(db, 'login_history_at_idx', 'login_history (at)');
  await createIndexConcurrently(db, 'oidc_account_index_expires_idx', 'oidc_account_index (expires_at) where expires_at is not null');
  await createIndexConcurrently(db, 'email_tokens_expires_idx', 'email_tokens (expires_at)');
}
