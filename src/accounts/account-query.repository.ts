import { type ExpressionBuilder, type Kysely, sql } from 'kysely';

import { type DB, listPage, type PageCursor, type PageRead } from '../db/index.ts';

export interface AccountListQuery {
  search?: string | undefined;
  role?: string | undefined;
  status?: 'active' | 'disabled' | 'deleted' | undefined;
  /** Where the page starts (from `next` or `previous` of an earlier page); the first page without it. */
  cursor?: PageCursor | undefined;
  /** A page by number, without a cursor (older API callers); deep pages cost more. */
  page?: number | undefined;
  perPage: number;
}

/** What admins see of an account: everything but its secrets. */
const publicColumns = [
  'id',
  'email',
  'email_verified',
  'name',
  'given_name',
  'family_name',
  'picture',
  'locale',
  'zoneinfo',
  'metadata',
  'status',
  'created_at',
  'updated_at',
  'last_login_at',
  'deleted_at',
] as const;

/** Whether the account has a second factor, a confirmed authenticator app or a passkey (admins see who has one). */
const secondFactor = (eb: ExpressionBuilder<DB, 'accounts'>) =>
  eb
    .or([
      eb.exists(eb.selectFrom('totp_credentials').select('account_id').whereRef('totp_credentials.account_id', '=', 'accounts.id').where('confirmed_at', 'is not', null)),
      eb.exists(eb.selectFrom('webauthn_credentials').select('account_id').whereRef('webauthn_credentials.account_id', '=', 'accounts.id')),
    ])
    .as('second_factor');

/** One account as admins see it, deleted or not, with whether it has a second factor. */
export async function findAccountOverview(db: Kysely<DB>, id: string) {
  return db.selectFrom('accounts').select(publicColumns).select(secondFactor).where('id', '=', id).executeTakeFirst();
}

/** One account as admins see it, deleted or not; `forUpdate` locks its row until the transaction ends. */
export async function findPublicAccount(db: Kysely<DB>, id: string, options: { forUpdate?: boolean } = {}) {
  const query = db.selectFrom('accounts').select(publicColumns).where('id', '=', id);
  return (options.forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

/** The roles of each of these accounts, highest rank first, in one query (a page of the users list). */
async function rolesOfAccounts(db: Kysely<DB>, accountIds: string[]): Promise<Map<string, string[]>> {
  const roles = new Map<string, string[]>(accountIds.map((id) => [id, []]));
  if (accountIds.length === 0) return roles;
  const rows = await db
    .selectFrom('account_roles')
    .innerJoin('roles', 'roles.name', 'account_roles.role_name')
    .select(['account_roles.account_id', 'roles.name'])
    .where('account_roles.account_id', 'in', accountIds)
    .orderBy('roles.rank', (ob) => ob.desc().nullsLast())
    .orderBy('roles.name')
    .execute();
  for (const row of rows) roles.get(row.account_id)?.push(row.name);
  return roles;
}

/** The accounts matching the search (email or name, any part of it), status and role. */
function matchingAccounts(db: Kysely<DB>, query: AccountListQuery) {
  let base = db.selectFrom('accounts');
  if (query.search) {
    // Served by the trigram indexes of migration 019.
    const pattern = `%${query.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    base = base.where((eb) => eb.or([eb('email', 'ilike', pattern), eb('name', 'ilike', pattern)]));
  }
  if (query.status === 'deleted') base = base.where('deleted_at', 'is not', null);
  else {
    base = base.where('deleted_at', 'is', null);
    if (query.status) base = base.where('status', '=', query.status);
  }
  if (query.role) {
    const role = query.role;
    base = base.where((eb) =>
      eb.exists(eb.selectFrom('account_roles').select('account_id').whereRef('account_roles.account_id', '=', 'accounts.id').where('role_name', '=', role)),
    );
  }
  return base;
}

/**
 * One page of the matches, newest first by (created_at, id), read from an index of migration 019 in that order.
 * The page's ids are found first and only its rows read whole, so rows skipped by an OFFSET cost an index entry.
 */
function pageOfAccounts(db: Kysely<DB>, query: AccountListQuery, read: PageRead) {
  let ids = matchingAccounts(db, query).select('accounts.id');
  // Compared as a row, (created_at, id), so the index is read from the cursor's row on; the cursor's own
  // created_at is read in the query, to the microsecond.
  const position = (id: string) => sql`((select c.created_at from accounts c where c.id = ${id}::uuid), ${id}::uuid)`;
  const direction = read.newerThan !== undefined ? 'asc' : 'desc';
  if (read.newerThan !== undefined) ids = ids.where(sql<boolean>`(accounts.created_at, accounts.id) > ${position(read.newerThan)}`);
  if (read.olderThan !== undefined) ids = ids.where(sql<boolean>`(accounts.created_at, accounts.id) < ${position(read.olderThan)}`);
  ids = ids.orderBy('accounts.created_at', direction).orderBy('accounts.id', direction).limit(read.limit).offset(read.offset);
  return db
    .selectFrom('accounts')
    .select(publicColumns)
    .select(secondFactor)
    .where('id', 'in', ids)
    .orderBy('created_at', direction)
    .orderBy('id', direction)
    .execute();
}

/**
 * A page of accounts, newest first, matching the search, status and role, each with its roles; with how many
 * match (exact while few, else an estimate: `totalExact` false) and the cursors of the pages either side.
 */
export async function listAccounts(db: Kysely<DB>, query: AccountListQuery) {
  const page = await listPage(db, query, (read) => pageOfAccounts(db, query, read), matchingAccounts(db, query));
  const roles = await rolesOfAccounts(db, page.items.map((item) => item.id));
  return { ...page, items: page.items.map((item) => ({ ...item, roles: roles.get(item.id) ?? [] })) };
}

/** The email address of each of these accounts that exists, deleted or not, in one query (the actors of a page of the audit log). */
export async function emailsOfAccounts(db: Kysely<DB>, accountIds: string[]): Promise<Map<string, string>> {
  if (accountIds.length === 0) return new Map();
  const rows = await db.selectFrom('accounts').select(['id', 'email']).where('id', 'in', accountIds).execute();
  return new Map(rows.map((row) => [row.id, row.email]));
}

/** The account's latest sign-in attempts, newest first. */
export async function loginHistoryOf(db: Kysely<DB>, accountId: string, limit: number) {
  return db
    .selectFrom('login_history')
    .select(['at', 'ip', 'user_agent', 'outcome', 'method'])
    .where('account_id', '=', accountId)
    // login_history_account_at_idx, in its order: a person with years of sign-ins costs what a new one does.
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}
