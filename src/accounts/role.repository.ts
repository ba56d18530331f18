import type { Kysely } from 'kysely';

import type { DB } from '../db/index.ts';

export async function rolesOf(db: Kysely<DB>, accountId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('account_roles')
    .innerJoin('roles', 'roles.name', 'account_roles.role_name')
    .select('roles.name')
    .where('account_roles.account_id', '=', accountId)
    .orderBy('roles.rank', (ob) => ob.desc().nullsLast())
    .orderBy('roles.name')
    .execute();
  return rows.map((r) => r.name);
}

export async function existingRoleNames(db: Kysely<DB>, names: string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const rows = await db.selectFrom('roles').select('name').where('name', 'in', names).execute();
  return new Set(rows.map((r) => r.name));
}

export async function grantRoles(db: Kysely<DB>, accountId: string, roles: string[]): Promise<void> {
  if (roles.length === 0) return;
  await db
    .insertInto('account_roles')
    .values(roles.map((role_name) => ({ account_id: accountId, role_name })))
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function anyoneHasRole(db: Kysely<DB>, role: string): Promise<boolean> {
  const row = await db
    .selectFrom('account_roles')
    .innerJoin('accounts', 'accounts.id', 'account_roles.account_id')
    .select('account_roles.account_id')
    .where('account_roles.role_name', '=', role)
    .where('accounts.deleted_at', 'is', null)
    .executeTakeFirst();
  return row !== undefined;
}

export async function findRole(db: Kysely<DB>, name: string) {
  return db.selectFrom('roles').selectAll().where('name', '=', name).executeTakeFirst();
}

/** Built-in roles first, highest rank first; then custom roles by name. */
export async function listRoles(db: Kysely<DB>) {
  return db.selectFrom('roles').selectAll().orderBy('rank', (ob) => ob.desc().nullsLast()).orderBy('name').execute();
}

/** A custom role (no rank). */
export async function insertRole(db: Kysely<DB>, name: string, description: string) {
  return db.insertInto('roles').values({ name, description, rank: null }).returningAll().executeTakeFirstOrThrow();
}

export async function deleteRole(db: Kysely<DB>, name: string): Promise<void> {
  await db.deleteFrom('roles').where('name', '=', name).execute();
}

export async function revokeRole(db: Kysely<DB>, accountId: string, role: string): Promise<void> {
  await db.deleteFrom('account_roles').where('account_id', '=', accountId).where('role_name', '=', role).execute();
}

/** Highest built-in rank among the account's roles (0 when none). */
export async function highestRankOf(db: Kysely<DB>, accountId: string): Promise<number> {
  const row = await db
    .selectFrom('account_roles')
    .innerJoin('roles', 'roles.name', 'account_roles.role_name')
    .select((eb) => eb.fn.max('roles.rank').as('rank'))
    .where('account_roles.account_id', '=', accountId)
    .executeTakeFirst();
  return Number(row?.rank ?? 0);
}
