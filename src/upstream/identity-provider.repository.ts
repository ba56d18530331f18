import { type Insertable, type Kysely, sql, type Updateable } from 'kysely';

import type { DB, IdentityProvidersTable } from '../db/index.ts';

export const listProviderRows = (db: Kysely<DB>) => db.selectFrom('identity_providers').selectAll().orderBy('position').orderBy('created_at').execute();

export const findProviderRow = (db: Kysely<DB>, id: string) => db.selectFrom('identity_providers').selectAll().where('id', '=', id).executeTakeFirst();

/** A new row goes last; a row with this id already there is left alone (undefined). */
export const insertProviderRow = (db: Kysely<DB>, row: Omit<Insertable<IdentityProvidersTable>, 'position'>) =>
  db
    .insertInto('identity_providers')
    .values({ ...row, position: sql<number>`(select coalesce(max(position), 0) + 1 from identity_providers)` })
    .onConflict((oc) => oc.column('id').doNothing())
    .returningAll()
    .executeTakeFirst();

export const updateProviderRow = (db: Kysely<DB>, id: string, changes: Updateable<IdentityProvidersTable>) =>
  db.updateTable('identity_providers').set({ ...changes, updated_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirst();

export const resealProviderRow = (db: Kysely<DB>, id: string, sealed: Pick<Updateable<IdentityProvidersTable>, 'client_secret_sealed' | 'private_key_jwt_sealed'>) =>
  db.updateTable('identity_providers').set(sealed).where('id', '=', id).execute();

export async function deleteProviderRow(db: Kysely<DB>, id: string): Promise<boolean> {
  const result = await db.deleteFrom('identity_providers').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** The rows as of now in one value: every insert, update (`updated_at`) or delete changes it. */
export async function providerRowsStamp(db: Kysely<DB>): Promise<string> {
  const row = await db
    .selectFrom('identity_providers')
    .select(sql<string | null>`md5(string_agg(id || ':' || updated_at::text, ',' order by id))`.as('digest'))
    .executeTakeFirstOrThrow();
  return row.digest ?? 'none';
}
