import { sql, type Insertable, type Kysely, type Selectable, type Transaction, type Updateable } from 'kysely';

import type { AccountsTable, DB, LoginOutcome } from '../db/index.ts';

export type AccountRow = Selectable<AccountsTable>;

export async function findAccountById(db: Kysely<DB>, id: string): Promise<AccountRow | undefined> {
  return db.selectFrom('accounts').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
}

/** PostgreSQL's lock_not_available: NOWAIT met a row lock. */
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * The account, or 'changing' while a transaction that writes its row has not committed yet (its row lock is
 * held): a copy read then may be outdated a moment later, so it must not be kept (active-account-cache.ts).
 */
export async function findAccountUnlessChanging(db: Kysely<DB>, id: string): Promise<AccountRow | 'changing' | undefined> {
  try {
    return await db.selectFrom('accounts').selectAll().where('id', '=', id).where('deleted_at', 'is', null).forShare().noWait().executeTakeFirst();
  } catch (error) {
    if ((error as { code?: unknown }).code === LOCK_NOT_AVAILABLE) return 'changing';
    throw error;
  }
}

/**
 * Runs a write of account rows in a transaction, unless it is in one already: the new version of the account
 * (account-versions.ts) is then set before the change commits, or the change rolls back.
 */
function changingAccounts<T>(db: Kysely<DB>, write: (db: Kysely<DB>) => Promise<T>): Promise<T> {
  return db.isTransaction ? write(db) : db.transaction().execute(write);
}

export async function findAccountByEmail(db: Kysely<DB>, email: string): Promise<AccountRow | undefined> {
  return db
    .selectFrom('accounts')
    .selectAll()
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

export async function emailIsTaken(db: Kysely<DB>, email: string): Promise<boolean> {
  const row = await db
    .selectFrom('accounts')
    .select('id')
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
  return row !== undefined;
}

export async function insertAccount(db: Kysely<DB>, values: Insertable<AccountsTable>): Promise<AccountRow> {
  return db.insertInto('accounts').values(values).returningAll().executeTakeFirstOrThrow();
}

/** Writes the given columns; `updated_at` moves on (it is the version admins' edits check). */
export async function updateAccount(db: Kysely<DB>, id: string, values: Updateable<AccountsTable>): Promise<void> {
  await changingAccounts(db, (trx) =>
    trx
      .updateTable('accounts')
      .set({ ...values, updated_at: sql`clock_timestamp()` })
      .where('id', '=', id)
      .execute(),
  );
}

/** False when there is no such account, or it is deleted. */
export async function setAccountStatus(db: Kysely<DB>, id: string, status: 'active' | 'disabled'): Promise<boolean> {
  const result = await changingAccounts(db, (trx) =>
    trx
      .updateTable('accounts')
      .set({ status, updated_at: sql`clock_timestamp()` })
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .executeTakeFirst(),
  );
  return result.numUpdatedRows > 0n;
}

/** Soft delete: the row stays, so an admin can restore it. False when there is no such account, or it is already deleted. */
export async function softDeleteAccount(db: Kysely<DB>, id: string): Promise<boolean> {
  const result = await changingAccounts(db, (trx) =>
    trx
      .updateTable('accounts')
      .set({ deleted_at: sql`now()`, updated_at: sql`clock_timestamp()` })
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .executeTakeFirst(),
  );
  return result.numUpdatedRows > 0n;
}

/** Undoes a soft delete. False when there is no such account, or it is not deleted. */
export async function restoreAccount(db: Kysely<DB>, id: string): Promise<boolean> {
  const result = await changingAccounts(db, (trx) =>
    trx
      .updateTable('accounts')
      .set({ deleted_at: null, updated_at: sql`clock_timestamp()` })
      .where('id', '=', id)
      .where('deleted_at', 'is not', null)
      .executeTakeFirst(),
  );
  return result.numUpdatedRows > 0n;
}

/** Serialises changes to one account within the transaction (removing the last second factor must not race another removal). */
export async function lockAccount(trx: Transaction<DB>, accountId: string): Promise<void> {
  await trx.selectFrom('accounts').select('id').where('id', '=', accountId).forUpdate().execute();
}

export async function updatePasswordHash(db: Kysely<DB>, id: string, passwordHash: string): Promise<void> {
  await changingAccounts(db, (trx) =>
    trx.updateTable('accounts').set({ password_hash: passwordHash, updated_at: sql`now()` }).where('id', '=', id).execute(),
  );
}

/** The owner proved the address (a mailed link, or a provider that verified it): it is theirs, no longer only an admin's word. */
export async function markEmailVerified(db: Kysely<DB>, id: string, email: string): Promise<boolean> {
  const result = await changingAccounts(db, (trx) =>
    trx
      .updateTable('accounts')
      .set({ email_verified: true, email_admin_asserted: false, updated_at: sql`now()` })
      .where('id', '=', id)
      .where(sql<string>`lower(email)`, '=', email.toLowerCase())
      .executeTakeFirst(),
  );
  return result.numUpdatedRows > 0n;
}

export interface LoginAttempt {
  accountId: string | null;
  outcome: LoginOutcome;
  ip: string | null;
  userAgent: string | null;
  method?: string;
}

const historyRow = (attempt: LoginAttempt) => ({
  account_id: attempt.accountId,
  outcome: attempt.outcome,
  ip: attempt.ip,
  user_agent: attempt.userAgent,
  method: attempt.method ?? 'password',
});

/** The history row of a sign-in attempt, as a query to run within a statement of the caller's (sign-in-history.ts). */
export const loginHistoryInsert = (db: Kysely<DB>, attempt: LoginAttempt) => db.insertInto('login_history').values(historyRow(attempt));

/**
 * The account's last sign-in time, as a query for a statement of the caller's. The account's version
 * (account-versions.ts) is not moved: no claim is made of last_login_at, so a kept copy may miss it.
 */
export const lastSignInUpdate = (db: Kysely<DB>, accountId: string) => db.updateTable('accounts').set({ last_login_at: sql`now()` }).where('id', '=', accountId);
