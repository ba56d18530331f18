import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';

import type { AccountsTable, DB, LoginOutcome } from '../db/index.ts';

export type AccountRow = Selectable<AccountsTable>;

export async function findAccountById(db: Kysely<DB>, id: string): Promise<AccountRow | undefined> {
  return db.selectFrom('accounts').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
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

export async function updatePasswordHash(db: Kysely<DB>, id: string, passwordHash: string): Promise<void> {
  await db
    .updateTable('accounts')
    .set({ password_hash: passwordHash, updated_at: sql`now()` })
    .where('id', '=', id)
    .execute();
}

/** The owner proved the address (a mailed link, or a provider that verified it): it is theirs, no longer only an admin's word. */
export async function markEmailVerified(db: Kysely<DB>, id: string, email: string): Promise<boolean> {
  const result = await db
    .updateTable('accounts')
    .set({ email_verified: true, email_admin_asserted: false, updated_at: sql`now()` })
    .where('id', '=', id)
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function markLoggedIn(db: Kysely<DB>, id: string): Promise<void> {
  await db.updateTable('accounts').set({ last_login_at: sql`now()` }).where('id', '=', id).execute();
}

export async function recordLoginAttempt(
  db: Kysely<DB>,
  attempt: { accountId: string | null; outcome: LoginOutcome; ip: string | null; userAgent: string | null; method?: string },
): Promise<void> {
  await db
    .insertInto('login_history')
    .values({
      account_id: attempt.accountId,
      outcome: attempt.outcome,
      ip: attempt.ip,
      user_agent: attempt.userAgent,
      method: attempt.method ?? 'password',
    })
    .execute();
}
