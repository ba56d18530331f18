import { type Insertable, type Kysely, sql, type Updateable } from 'kysely';

import type { AccountsTable, DB } from '../db/index.ts';

export const GOOGLE = 'google';

export interface ExistingAccount {
  id: string;
  email: string;
  deleted: boolean;
}

/** Accounts (deleted ones too: their address stays taken) whose email matches one of these, by lower case. */
export async function accountsByEmail(db: Kysely<DB>, lowerEmails: string[]): Promise<Map<string, ExistingAccount>> {
  if (lowerEmails.length === 0) return new Map();
  const rows = await db
    .selectFrom('accounts')
    .select(['id', 'email', 'deleted_at'])
    .where(sql<string>`lower(email)`, 'in', lowerEmails)
    .execute();
  return new Map(rows.map((row) => [row.email.toLowerCase(), { id: row.id, email: row.email, deleted: row.deleted_at !== null }]));
}

/** Which of these Google subjects are linked already, and to which account. */
export async function googleLinks(db: Kysely<DB>, subjects: string[]): Promise<Map<string, string>> {
  if (subjects.length === 0) return new Map();
  const rows = await db.selectFrom('federated_identities').select(['subject', 'account_id']).where('provider', '=', GOOGLE).where('subject', 'in', subjects).execute();
  return new Map(rows.map((row) => [row.subject, row.account_id]));
}

/** Inserts the accounts in one statement; their ids by lower-case email. */
export async function insertAccounts(db: Kysely<DB>, accounts: Insertable<AccountsTable>[]): Promise<Map<string, string>> {
  if (accounts.length === 0) return new Map();
  const rows = await db.insertInto('accounts').values(accounts).returning(['id', 'email']).execute();
  return new Map(rows.map((row) => [row.email.toLowerCase(), row.id]));
}

/** PostgreSQL takes at most 65,535 parameters a statement: a batch of people with many roles each is cut up. */
const GRANTS_PER_STATEMENT = 10_000;

export async function insertAccountRoles(db: Kysely<DB>, grants: { account_id: string; role_name: string }[]): Promise<void> {
  for (let start = 0; start < grants.length; start += GRANTS_PER_STATEMENT) {
    await db.insertInto('account_roles').values(grants.slice(start, start + GRANTS_PER_STATEMENT)).onConflict((oc) => oc.doNothing()).execute();
  }
}

export async function insertGoogleLinks(db: Kysely<DB>, links: { account_id: string; subject: string; email: string }[]): Promise<void> {
  if (links.length === 0) return;
  await db
    .insertInto('federated_identities')
    .values(links.map((link) => ({ provider: GOOGLE, subject: link.subject, account_id: link.account_id, email: link.email })))
    .execute();
}

export async function updateImportedAccount(db: Kysely<DB>, id: string, values: Updateable<AccountsTable>): Promise<void> {
  await db
    .updateTable('accounts')
    .set({ ...values, updated_at: sql`clock_timestamp()` })
    .where('id', '=', id)
    .execute();
}

export async function replaceAccountRoles(db: Kysely<DB>, accountId: string, roles: string[]): Promise<void> {
  await db.deleteFrom('account_roles').where('account_id', '=', accountId).execute();
  await insertAccountRoles(db, roles.map((role_name) => ({ account_id: accountId, role_name })));
}

/** The account's Google identity becomes this one (an update of an account linked to another Google account). */
export async function replaceGoogleLink(db: Kysely<DB>, link: { account_id: string; subject: string; email: string }): Promise<void> {
  await db.deleteFrom('federated_identities').where('account_id', '=', link.account_id).where('provider', '=', GOOGLE).execute();
  await insertGoogleLinks(db, [link]);
}

/** What an import has read so far: the first line of each email and Google subject, after the batch in memory. */
type ImportLines = { import_lines: { key: string; line: number } };
export type ImportKey = 'email' | 'google_sub';

/** A scratch table of the import's transaction (gone when it ends, however it ends), so memory stays flat however long the file. */
export async function createImportLines(trx: Kysely<DB>): Promise<void> {
  await trx.schema
    .createTable('import_lines')
    .temporary()
    .onCommit('drop')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('line', 'integer', (c) => c.notNull())
    .execute();
}

/**
 * Remembers the first line of each email and Google subject of a batch, and returns the lines of earlier
 * batches that had one of them (one statement: the select sees the table as it was before the insert).
 */
export async function takeImportLines(trx: Kysely<DB>, lines: Record<ImportKey, ReadonlyMap<string, number>>): Promise<Record<ImportKey, Map<string, number>>> {
  const rows = (Object.keys(lines) as ImportKey[]).flatMap((kind) => [...lines[kind]].map(([value, line]) => ({ key: `${kind}:${value}`, line })));
  const earlier: Record<ImportKey, Map<string, number>> = { email: new Map(), google_sub: new Map() };
  if (rows.length === 0) return earlier;
  const scratch = trx.withTables<ImportLines>();
  const found = await scratch
    .with('recorded', (db) => db.insertInto('import_lines').values(rows).onConflict((oc) => oc.doNothing()))
    .selectFrom('import_lines')
    .select(['key', 'line'])
    .where('key', 'in', rows.map((row) => row.key))
    .execute();
  for (const { key, line } of found) {
    const colon = key.indexOf(':');
    earlier[key.slice(0, colon) as ImportKey].set(key.slice(colon + 1), line);
  }
  return earlier;
}

/**
 * A page of accounts that are not deleted, by id after the given one, with their roles and Google
 * subject. (Not by created_at: JavaScript's milliseconds cannot resume at PostgreSQL's microseconds.)
 */
export async function accountsPage(db: Kysely<DB>, afterId: string | undefined, size: number) {
  const accounts = await db
    .selectFrom('accounts')
    .selectAll()
    .where('deleted_at', 'is', null)
    .$if(afterId !== undefined, (query) => query.where('id', '>', afterId!))
    .orderBy('id')
    .limit(size)
    .execute();
  const ids = accounts.map((account) => account.id);
  if (ids.length === 0) return [];
  const roles = await db
    .selectFrom('account_roles')
    .innerJoin('roles', 'roles.name', 'account_roles.role_name')
    .select(['account_roles.account_id', 'roles.name'])
    .where('account_roles.account_id', 'in', ids)
    .orderBy('roles.rank', (ob) => ob.desc().nullsLast())
    .orderBy('roles.name')
    .execute();
  const google = await db.selectFrom('federated_identities').select(['account_id', 'subject']).where('provider', '=', GOOGLE).where('account_id', 'in', ids).execute();
  const rolesOf = new Map<string, string[]>();
  for (const row of roles) rolesOf.set(row.account_id, [...(rolesOf.get(row.account_id) ?? []), row.name]);
  const subjectOf = new Map(google.map((row) => [row.account_id, row.subject]));
  return accounts.map((account) => ({ ...account, roles: rolesOf.get(account.id) ?? [], google_sub: subjectOf.get(account.id) ?? null }));
}
