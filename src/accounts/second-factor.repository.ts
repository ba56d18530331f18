import { createHash } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';

import type { DB, TotpCredentialsTable } from '../db/index.ts';

export type TotpRow = Selectable<TotpCredentialsTable>;

export const recoveryCodeHash = (code: string) => createHash('sha256').update(code.replace(/[\s-]/g, '').toUpperCase()).digest('hex');

export async function findTotp(db: Kysely<DB>, accountId: string): Promise<TotpRow | undefined> {
  return db.selectFrom('totp_credentials').selectAll().where('account_id', '=', accountId).executeTakeFirst();
}

/** A new, unconfirmed secret; replaces an earlier unconfirmed one, never a confirmed one. */
export async function saveUnconfirmedTotp(db: Kysely<DB>, accountId: string, secret: string): Promise<boolean> {
  const result = await db
    .insertInto('totp_credentials')
    .values({ account_id: accountId, secret })
    .onConflict((oc) =>
      oc.column('account_id').doUpdateSet({ secret, created_at: sql`now()` }).where('totp_credentials.confirmed_at', 'is', null),
    )
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** The stored secrets that do not start with `prefix` (those not sealed with the current key). */
export async function totpSecretsNotStartingWith(db: Kysely<DB>, prefix: string): Promise<{ account_id: string; secret: string }[]> {
  return db
    .selectFrom('totp_credentials')
    .select(['account_id', 'secret'])
    .where(sql<string>`left(secret, ${prefix.length})`, '<>', prefix)
    .execute();
}

/** Replaces the stored secret only if it is still `current` (a concurrent change wins). */
export async function replaceTotpSecret(db: Kysely<DB>, accountId: string, current: string, replacement: string): Promise<boolean> {
  const result = await db
    .updateTable('totp_credentials')
    .set({ secret: replacement })
    .where('account_id', '=', accountId)
    .where('secret', '=', current)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Records that a code of `timeStep` was accepted, only if no code of that step or later was:
 * of two concurrent uses of one code, one wins.
 */
export async function acceptTimeStep(db: Kysely<DB>, accountId: string, timeStep: number, confirm: boolean): Promise<boolean> {
  const result = await db
    .updateTable('totp_credentials')
    .set({ last_time_step: timeStep, ...(confirm ? { confirmed_at: sql`now()` } : {}) })
    .where('account_id', '=', accountId)
    .where((eb) => eb.or([eb('last_time_step', 'is', null), eb('last_time_step', '<', timeStep)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function deleteTotp(db: Kysely<DB>, accountId: string): Promise<boolean> {
  const result = await db.deleteFrom('totp_credentials').where('account_id', '=', accountId).executeTakeFirst();
  await db.deleteFrom('recovery_codes').where('account_id', '=', accountId).execute();
  return Number(result.numDeletedRows) > 0;
}

export async function replaceRecoveryCodes(db: Kysely<DB>, accountId: string, codes: string[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('recovery_codes').where('account_id', '=', accountId).execute();
    await trx
      .insertInto('recovery_codes')
      .values(codes.map((code) => ({ account_id: accountId, code_hash: recoveryCodeHash(code) })))
      .execute();
  });
}

/** Uses the code up, atomically; false when it is unknown or used. */
export async function useRecoveryCode(db: Kysely<DB>, accountId: string, code: string): Promise<boolean> {
  const result = await db
    .updateTable('recovery_codes')
    .set({ used_at: sql`now()` })
    .where('account_id', '=', accountId)
    .where('code_hash', '=', recoveryCodeHash(code))
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Whether the account has a confirmed authenticator app, its unused recovery codes and its passkeys, in one query (each sign-in asks). */
export async function secondFactorCounts(db: Kysely<DB>, accountId: string): Promise<{ totp: boolean; recoveryCodesLeft: number; passkeys: number }> {
  const row = await db
    .selectNoFrom((eb) => [
      eb.exists(eb.selectFrom('totp_credentials').select('account_id').where('account_id', '=', accountId).where('confirmed_at', 'is not', null)).as('totp'),
      eb.selectFrom('recovery_codes').select((eb) => eb.fn.countAll<string>().as('count')).where('account_id', '=', accountId).where('used_at', 'is', null).as('recovery_codes_left'),
      eb.selectFrom('webauthn_credentials').select((eb) => eb.fn.countAll<string>().as('count')).where('account_id', '=', accountId).as('passkeys'),
    ])
    .executeTakeFirstOrThrow();
  return { totp: Boolean(row.totp), recoveryCodesLeft: Number(row.recovery_codes_left), passkeys: Number(row.passkeys) };
}

/** Which of these accounts have a confirmed authenticator app or a passkey (for the admin list). */
export async function accountsWithSecondFactor(db: Kysely<DB>, accountIds: string[]): Promise<Set<string>> {
  if (!accountIds.length) return new Set();
  const rows = await db
    .selectFrom('totp_credentials')
    .select('account_id')
    .where('account_id', 'in', accountIds)
    .where('confirmed_at', 'is not', null)
    .union(db.selectFrom('webauthn_credentials').select('account_id').where('account_id', 'in', accountIds))
    .execute();
  return new Set(rows.map((row) => row.account_id));
}
