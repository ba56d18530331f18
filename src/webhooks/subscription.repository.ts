import type { Insertable, Kysely, Updateable } from 'kysely';

import type { DB, WebhookSubscriptionsTable } from '../db/index.ts';

const shown = ['id', 'url', 'description', 'events', 'enabled', 'previous_secret_expires_at', 'created_at', 'updated_at'] as const;

export const insertSubscription = (db: Kysely<DB>, row: Insertable<WebhookSubscriptionsTable>) =>
  db.insertInto('webhook_subscriptions').values(row).returning(shown).executeTakeFirstOrThrow();

export const listSubscriptions = (db: Kysely<DB>) => db.selectFrom('webhook_subscriptions').select(shown).orderBy('created_at').execute();

export const findSubscription = (db: Kysely<DB>, id: string) => db.selectFrom('webhook_subscriptions').select(shown).where('id', '=', id).executeTakeFirst();

export const updateSubscription = (db: Kysely<DB>, id: string, changes: Updateable<WebhookSubscriptionsTable>) =>
  db.updateTable('webhook_subscriptions').set({ ...changes, updated_at: new Date() }).where('id', '=', id).returning(shown).executeTakeFirst();

export const findSealedSecret = (db: Kysely<DB>, id: string) =>
  db.selectFrom('webhook_subscriptions').select('secret_sealed').where('id', '=', id).executeTakeFirst();

export async function deleteSubscription(db: Kysely<DB>, id: string): Promise<boolean> {
  const result = await db.deleteFrom('webhook_subscriptions').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
