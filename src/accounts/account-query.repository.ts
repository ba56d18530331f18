import type { ExpressionBuilder, Kysely } from 'kysely';

import type { DB } from '../db/index.ts';

export interface AccountListQuery {
  search?: string | undefined;
  role?: string | undefined;
  status?: 'active' | 'disabled' | 'deleted' | undefined;
  page: number;
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

/** A page of accounts, newest first, matching the search (email or name), status and role, each with its roles; with the count of all matches. */
export async function listAccounts(db: Kysely<DB>, query: AccountListQuery) {
  let base = db.selectFrom('accounts');
  if (query.search) {
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
  const { total } = await base.select((eb) => eb.fn.countAll<string>().as('total')).executeTakeFirstOrThrow();
  const items = await base
    .select(publicColumns)
    .select(secondFactor)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(query.perPage)
    .offset((query.page - 1) * query.perPage)
    .execute();
  const roles = await rolesOfAccounts(db, items.map((item) => item.id));
  return { items: items.map((item) => ({ ...item, roles: roles.get(item.id) ?? [] })), total: Number(total), page: query.page, perPage: query.perPage };
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
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}
