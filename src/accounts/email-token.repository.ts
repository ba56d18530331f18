import { createHash, randomBytes } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';

import type { DB, EmailTokenPurpose, EmailTokensTable } from '../db/index.ts';

export type EmailTokenRow = Selectable<EmailTokensTable>;

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

/** A random 32-byte token for a link; only its SHA-256 is stored. Earlier unused tokens of the same purpose stop working. */
export async function issueEmailToken(
  db: Kysely<DB>,
  values: { accountId: string; purpose: EmailTokenPurpose; email: string; returnTo: string | null; ttlSeconds: number },
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await db
    .updateTable('email_tokens')
    .set({ used_at: sql`now()` })
    .where('account_id', '=', values.accountId)
    .where('purpose', '=', values.purpose)
    .where('used_at', 'is', null)
    .execute();
  await db
    .insertInto('email_tokens')
    .values({
      token_hash: hashOf(token),
      account_id: values.accountId,
      purpose: values.purpose,
      email: values.email,
      return_to: values.returnTo,
      expires_at: new Date(Date.now() + values.ttlSeconds * 1000),
    })
    .execute();
  return token;
}

/** The token's record while it is unused and unexpired, without using it up. */
export async function findLiveEmailToken(db: Kysely<DB>, token: string, purpose: EmailTokenPurpose): Promise<EmailTokenRow | undefined> {
  return db
    .selectFrom('email_tokens')
    .selectAll()
    .where('token_hash', '=', hashOf(token))
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst();
}

/** Uses the token up, atomically: of two concurrent uses, one wins. */
export async function useEmailToken(db: Kysely<DB>, token: string, purpose: EmailTokenPurpose): Promise<EmailTokenRow | undefined> {
  return db
    .updateTable('email_tokens')
    .set({ used_at: sql`now()` })
    .where('token_hash', '=', hashOf(token))
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .returningAll()
    .executeTakeFirst();
}
