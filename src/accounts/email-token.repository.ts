import { createHash, randomBytes } from 'node:crypto';
import { sql, type ExpressionBuilder, type Kysely, type Selectable } from 'kysely';

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

/**
 * A verification or reset link is good only while the account still has the address it was mailed
 * to: whoever reads an old mailbox must not verify or reset an account that has moved on. (A link
 * to confirm a new address carries that new address, which the account does not have yet.)
 */
const stillAtTheAddress = (purpose: EmailTokenPurpose) => (eb: ExpressionBuilder<DB, 'email_tokens'>) =>
  purpose === 'change_email'
    ? eb.val(true)
    : eb.exists(
        eb
          .selectFrom('accounts')
          .select('accounts.id')
          .whereRef('accounts.id', '=', 'email_tokens.account_id')
          .where(sql<string>`lower(accounts.email)`, '=', sql<string>`lower(email_tokens.email)`),
      );

/** The token's record while it is unused, unexpired and bound to the account's address, without using it up. */
export async function findLiveEmailToken(db: Kysely<DB>, token: string, purpose: EmailTokenPurpose): Promise<EmailTokenRow | undefined> {
  return db
    .selectFrom('email_tokens')
    .selectAll()
    .where('token_hash', '=', hashOf(token))
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .where(stillAtTheAddress(purpose))
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
    .where(stillAtTheAddress(purpose))
    .returningAll()
    .executeTakeFirst();
}

/** Deletes the account's unused verification and reset links: after its address changes, none mailed to the old one may work. */
export async function deleteLinksToOldAddress(db: Kysely<DB>, accountId: string): Promise<void> {
  await db
    .deleteFrom('email_tokens')
    .where('account_id', '=', accountId)
    .where('purpose', 'in', ['verify_email', 'reset_password'])
    .where('used_at', 'is', null)
    .execute();
}
