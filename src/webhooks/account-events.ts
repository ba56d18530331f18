import type { Kysely, RawBuilder } from 'kysely';

import type { DB } from '../db/index.ts';
import { type AccountEvent, withoutSecrets } from './event-catalogue.ts';
import { eventWrites, insertEvents, type OutgoingEvent } from './outbox.repository.ts';

/**
 * Puts an event in the webhook outbox. Pass the transaction of the change that caused it, so that the
 * event exists exactly when the change does. Returns the event id (the deliveries' `webhook-id`).
 */
export async function recordEvent(db: Kysely<DB>, event: AccountEvent): Promise<string> {
  const [id] = await recordEvents(db, [event]);
  return id!;
}

/** Many events in one statement (an import's batch). */
export function recordEvents(db: Kysely<DB>, events: AccountEvent[]): Promise<string[]> {
  return insertEvents(db, events.map(outgoing(new Date().toISOString())));
}

/**
 * The common table expressions that put `events` in the outbox, for a statement of the caller's that makes
 * the change they tell of: one round trip, and both commit or neither does (outbox.repository.ts).
 */
export function accountEventWrites(events: AccountEvent[]): RawBuilder<unknown> {
  return eventWrites(events.map(outgoing(new Date().toISOString()))).ctes;
}

const outgoing =
  (timestamp: string) =>
  (event: AccountEvent): OutgoingEvent => ({
    type: event.type,
    payload: {
      type: event.type,
      timestamp,
      actor: { type: event.actor.type, id: event.actor.id ?? null },
      subject: { type: 'account', id: event.accountId },
      data: withoutSecrets(event.data ?? {}) as Record<string, unknown>,
    },
  });

/** Records events outside any transaction of ours (a provider event, a sign-in): a failure is reported, not thrown. */
export function eventRecorder(db: Kysely<DB>, onError: (error: unknown, type: string) => void) {
  return (event: AccountEvent): Promise<void> =>
    recordEvent(db, event).then(
      () => undefined,
      (error: unknown) => onError(error, event.type),
    );
}

export type RecordEvent = ReturnType<typeof eventRecorder>;
