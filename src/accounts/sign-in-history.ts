import { type Kysely, sql } from 'kysely';

import type { DB, LoginOutcome } from '../db/index.ts';
import { accountEventWrites } from '../webhooks/index.ts';
import { lastSignInUpdate, loginHistoryInsert } from './account.repository.ts';

interface Attempt {
  accountId: string | null;
  ip: string | null;
  userAgent: string | null;
  /** `password` (the default), `passkey`, or the upstream provider. */
  method?: string | undefined;
}

/**
 * A sign-in that succeeded: the history row, the account's last sign-in time and the `signin.succeeded` event,
 * in one statement (one round trip, and all of it or nothing).
 */
export async function signedIn(db: Kysely<DB>, attempt: Attempt & { accountId: string }): Promise<void> {
  const event = accountEventWrites([
    {
      type: 'signin.succeeded',
      actor: { type: 'account', id: attempt.accountId },
      accountId: attempt.accountId,
      data: { method: attempt.method ?? 'password', ip: attempt.ip },
    },
  ]);
  await sql`with signed_in as (${lastSignInUpdate(db, attempt.accountId)}), history as (${loginHistoryInsert(db, { ...attempt, outcome: 'success' })}), ${event} select 1`.execute(db);
}

/** A refused sign-in: its history row and the `signin.failed` event, in one statement. */
export async function signInRefused(db: Kysely<DB>, attempt: Attempt & { outcome: Exclude<LoginOutcome, 'success'> }): Promise<void> {
  const event = accountEventWrites([
    {
      type: 'signin.failed',
      actor: { type: 'system' },
      accountId: attempt.accountId,
      data: { method: attempt.method ?? 'password', reason: attempt.outcome, ip: attempt.ip },
    },
  ]);
  await sql`with history as (${loginHistoryInsert(db, attempt)}), ${event} select 1`.execute(db);
}
