import type { Kysely } from 'kysely';

import type { DB, LoginOutcome } from '../db/index.ts';
import { recordEvent } from '../webhooks/index.ts';
import { recordLoginAttempt, recordSignIn } from './account.repository.ts';

interface Attempt {
  accountId: string | null;
  ip: string | null;
  userAgent: string | null;
  /** `password` (the default), `passkey`, or the upstream provider. */
  method?: string | undefined;
}

/** A sign-in that succeeded: the history row, the account's last sign-in time and the `signin.succeeded` event, together. */
export function signedIn(db: Kysely<DB>, attempt: Attempt & { accountId: string }): Promise<void> {
  return db.transaction().execute(async (trx) => {
    await recordSignIn(trx, attempt);
    await recordEvent(trx, {
      type: 'signin.succeeded',
      actor: { type: 'account', id: attempt.accountId },
      accountId: attempt.accountId,
      data: { method: attempt.method ?? 'password', ip: attempt.ip },
    });
  });
}

/** A refused sign-in: its history row and the `signin.failed` event, together. */
export function signInRefused(db: Kysely<DB>, attempt: Attempt & { outcome: Exclude<LoginOutcome, 'success'> }): Promise<void> {
  return db.transaction().execute(async (trx) => {
    await recordLoginAttempt(trx, attempt);
    await recordEvent(trx, {
      type: 'signin.failed',
      actor: { type: 'system' },
      accountId: attempt.accountId,
      data: { method: attempt.method ?? 'password', reason: attempt.outcome, ip: attempt.ip },
    });
  });
}
