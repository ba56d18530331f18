import { createHash } from 'node:crypto';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';

import type { DB, WebauthnChallengesTable, WebauthnCredentialsTable, WebauthnPurpose } from '../db/index.ts';

export type PasskeyRow = Selectable<WebauthnCredentialsTable>;
export type ChallengeRow = Selectable<WebauthnChallengesTable>;

const keyHash = (key: string) => createHash('sha256').update(key).digest('hex');

export async function insertPasskey(
  db: Kysely<DB>,
  passkey: { id: string; accountId: string; publicKey: string; counter: number; transports: string[]; name: string },
): Promise<boolean> {
  const result = await db
    .insertInto('webauthn_credentials')
    .values({
      id: passkey.id,
      account_id: passkey.accountId,
      public_key: passkey.publicKey,
      counter: passkey.counter,
      transports: JSON.stringify(passkey.transports),
      name: passkey.name,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function findPasskey(db: Kysely<DB>, id: string): Promise<PasskeyRow | undefined> {
  return db.selectFrom('webauthn_credentials').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function passkeysOf(db: Kysely<DB>, accountId: string): Promise<PasskeyRow[]> {
  return db.selectFrom('webauthn_credentials').selectAll().where('account_id', '=', accountId).orderBy('created_at').orderBy('id').execute();
}

export async function countPasskeys(db: Kysely<DB>, accountId: string): Promise<number> {
  const row = await db
    .selectFrom('webauthn_credentials')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('account_id', '=', accountId)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/**
 * Records a use: the new counter and the time. Of two uses with the same counter only the first
 * is recorded (authenticators that keep no counter always send 0).
 */
export async function recordPasskeyUse(db: Kysely<DB>, id: string, counter: number): Promise<boolean> {
  const result = await db
    .updateTable('webauthn_credentials')
    .set({ counter, last_used_at: sql`now()` })
    .where('id', '=', id)
    .where((eb) => (counter === 0 ? eb('counter', '=', 0) : eb('counter', '<', counter)))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function renamePasskey(db: Kysely<DB>, accountId: string, id: string, name: string): Promise<boolean> {
  const result = await db.updateTable('webauthn_credentials').set({ name }).where('id', '=', id).where('account_id', '=', accountId).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function deletePasskey(trx: Kysely<DB> | Transaction<DB>, accountId: string, id: string): Promise<boolean> {
  const result = await trx.deleteFrom('webauthn_credentials').where('id', '=', id).where('account_id', '=', accountId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export async function deletePasskeysOf(db: Kysely<DB>, accountId: string): Promise<number> {
  const result = await db.deleteFrom('webauthn_credentials').where('account_id', '=', accountId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function saveChallenge(
  db: Kysely<DB>,
  key: string,
  challenge: { challenge: string; purpose: WebauthnPurpose; accountId: string | null; interactionUid: string | null; expiresAt: Date },
): Promise<void> {
  // Expired challenges are of no use to anybody: each new one sweeps them away.
  await db.deleteFrom('webauthn_challenges').where('expires_at', '<', new Date()).execute();
  await db
    .insertInto('webauthn_challenges')
    .values({
      key_hash: keyHash(key),
      challenge: challenge.challenge,
      purpose: challenge.purpose,
      account_id: challenge.accountId,
      interaction_uid: challenge.interactionUid,
      expires_at: challenge.expiresAt,
    })
    .execute();
}

/** Takes the challenge out, atomically: of two uses of one key, one gets it; undefined when unknown or used. */
export async function takeChallenge(db: Kysely<DB>, key: string): Promise<ChallengeRow | undefined> {
  return db.deleteFrom('webauthn_challenges').where('key_hash', '=', keyHash(key)).returningAll().executeTakeFirst();
}
