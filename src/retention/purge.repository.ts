import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely';

import type { DB } from '../db/index.ts';

/** Tables whose rows are history: kept for a number of days counted from `at`. */
export type HistoryTable = 'login_history' | 'audit_events';

/** Tables whose rows stop meaning anything at a moment of their own (expiry, use). */
export type ExpiringTable =
  | 'oidc_models'
  | 'oidc_account_index'
  | 'email_tokens'
  | 'webauthn_challenges'
  | 'console_sessions'
  | 'reauthentications'
  | 'webhook_events';

/**
 * When a row of each expiring table is dead. Reauthentications count for REAUTH_MAX_AGE, at most a day
 * (the same day after which recordReauthentication lets an account's older proofs go). A webhook event stays
 * 30 days after it happened, for the console's delivery list and resends, and as long as a delivery is pending
 * (its deliveries go with it).
 */
const dead: Record<ExpiringTable, RawBuilder<SqlBool>> = {
  oidc_models: sql`expires_at <= now()`,
  oidc_account_index: sql`expires_at <= now()`,
  email_tokens: sql`(used_at is not null or expires_at <= now())`,
  webauthn_challenges: sql`expires_at <= now()`,
  console_sessions: sql`expires_at <= now()`,
  reauthentications: sql`authenticated_at < now() - interval '1 day'`,
  webhook_events: sql`occurred_at < now() - interval '30 days'
    and not exists (select 1 from webhook_deliveries where event_id = webhook_events.id and status = 'pending')`,
};

/** Any value PostgreSQL never assigned to another advisory lock of ours (the migrator's start-up lock is another). */
const PURGE_LOCK_KEY = 230_231_023;

/**
 * Deletes up to `size` rows of `table` older than `days`, oldest first, starting at `from` (the `at` the previous
 * batch ended at): each batch reads the index on `at` from where the last one stopped, not past the rows it
 * already deleted. Returns how many went and where the next batch starts.
 */
export async function deleteOldHistory(
  db: Kysely<DB>,
  table: HistoryTable,
  { days, from, size }: { days: number; from: Date | undefined; size: number },
): Promise<{ deleted: number; next: Date | undefined }> {
  const after = from ? sql`and at >= ${from}` : sql``;
  const { rows } = await sql<{ deleted: string; next: Date | null }>`
    with batch as (
      delete from ${sql.table(table)} where id in (
        select id from ${sql.table(table)}
        where at < now() - make_interval(days => ${days}) ${after}
        order by at limit ${size}
      )
      returning at
    )
    select count(*) as deleted, max(at) as next from batch`.execute(db);
  const row = rows[0]!;
  return { deleted: Number(row.deleted), next: row.next ?? from };
}

/** Deletes up to `size` dead rows of `table` (by their physical address, so no key is needed); returns how many. */
export async function deleteDeadRows(db: Kysely<DB>, table: ExpiringTable, size: number): Promise<number> {
  const result = await sql`
    delete from ${sql.table(table)}
    where ctid = any(array(select ctid from ${sql.table(table)} where ${dead[table]} limit ${size}))`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** On one pinned PostgreSQL connection: true when this session now holds the purge lock (no other node does). */
export async function tryPurgeLock(connection: Kysely<DB>): Promise<boolean> {
  const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${PURGE_LOCK_KEY}) as locked`.execute(connection);
  return rows[0]!.locked;
}

export async function releasePurgeLock(connection: Kysely<DB>): Promise<void> {
  await sql`select pg_advisory_unlock(${PURGE_LOCK_KEY})`.execute(connection);
}

/**
 * On one pinned PostgreSQL connection: a statement that runs longer than `statementMs`, or waits for a row lock
 * longer than `lockMs`, is cancelled rather than hold up requests.
 */
export async function limitStatementTime(connection: Kysely<DB>, { statementMs, lockMs }: { statementMs: number; lockMs: number }): Promise<void> {
  await sql`select set_config('statement_timeout', ${`${statementMs}ms`}, false), set_config('lock_timeout', ${`${lockMs}ms`}, false)`.execute(connection);
}

/** Gives the pinned connection back its server's own limits before it returns to the pool. */
export async function resetStatementTime(connection: Kysely<DB>): Promise<void> {
  await sql`reset statement_timeout`.execute(connection);
  await sql`reset lock_timeout`.execute(connection);
}
