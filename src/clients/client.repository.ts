import { sql, type Kysely } from 'kysely';

import type { DB } from '../db/index.ts';

type Metadata = Record<string, unknown>;

export const findClientRow = (db: Kysely<DB>, clientId: string) =>
  db.selectFrom('clients').selectAll().where('client_id', '=', clientId).executeTakeFirst();

export const findClientMetadata = async (db: Kysely<DB>, clientId: string): Promise<Metadata | undefined> =>
  (await db.selectFrom('clients').select('metadata').where('client_id', '=', clientId).executeTakeFirst())?.metadata;

export const listClientRows = (db: Kysely<DB>) => db.selectFrom('clients').selectAll().orderBy('created_at').execute();

export async function insertClient(db: Kysely<DB>, clientId: string, metadata: Metadata): Promise<void> {
  await db.insertInto('clients').values({ client_id: clientId, metadata: JSON.stringify(metadata) }).execute();
}

export async function replaceClientMetadata(db: Kysely<DB>, clientId: string, metadata: Metadata): Promise<void> {
  await db.updateTable('clients').set({ metadata: JSON.stringify(metadata), updated_at: sql`now()` }).where('client_id', '=', clientId).execute();
}

/** Whether a row was deleted. */
export async function deleteClient(db: Kysely<DB>, clientId: string): Promise<boolean> {
  const result = await db.deleteFrom('clients').where('client_id', '=', clientId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
