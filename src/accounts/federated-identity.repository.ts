import type { Kysely, Selectable } from 'kysely';

import type { DB, FederatedIdentitiesTable } from '../db/index.ts';

export type FederatedIdentityRow = Selectable<FederatedIdentitiesTable>;

export async function findIdentity(db: Kysely<DB>, provider: string, subject: string): Promise<FederatedIdentityRow | undefined> {
  return db.selectFrom('federated_identities').selectAll().where('provider', '=', provider).where('subject', '=', subject).executeTakeFirst();
}

export async function identitiesOf(db: Kysely<DB>, accountId: string): Promise<FederatedIdentityRow[]> {
  return db.selectFrom('federated_identities').selectAll().where('account_id', '=', accountId).orderBy('provider').execute();
}

export async function insertIdentity(
  db: Kysely<DB>,
  identity: { provider: string; subject: string; accountId: string; email: string | null },
): Promise<void> {
  await db
    .insertInto('federated_identities')
    .values({ provider: identity.provider, subject: identity.subject, account_id: identity.accountId, email: identity.email })
    .execute();
}

export async function deleteIdentity(db: Kysely<DB>, accountId: string, provider: string): Promise<boolean> {
  const result = await db
    .deleteFrom('federated_identities')
    .where('account_id', '=', accountId)
    .where('provider', '=', provider)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}
