import { randomUUID } from 'node:crypto';

import { type Kysely, type RawBuilder, sql } from 'kysely';

import type { DB, WebhookDeliveryStatus } from '../db/index.ts';

export interface OutgoingEvent {
  type: string;
  payload: Record<string, unknown>;
}

/**
 * The common table expressions that write the events and one pending delivery for every enabled subscription
 * that wants each (an event no subscription wants is not kept), for a statement to begin with: the change that
 * caused the events can be the same statement (see `insertEvents`), and both commit or neither does.
 * `ids`: the event ids, in order.
 */
export function eventWrites(events: OutgoingEvent[]): { ids: string[]; ctes: RawBuilder<unknown> } {
  const ids = events.map(() => `msg_${randomUUID().replaceAll('-', '')}`);
  const payloads = events.map((event, index) => JSON.stringify({ id: ids[index], ...event.payload }));
  const ctes = sql`
    incoming as (
      select * from unnest(${ids}::text[], ${events.map((event) => event.type)}::text[], ${payloads}::text[]) as e(id, type, payload)
    ), matched as (
      select incoming.id as event_id, s.id as subscription_id
      from incoming join webhook_subscriptions s on s.enabled and (cardinality(s.events) = 0 or incoming.type = any(s.events))
    ), kept as (
      insert into webhook_events (id, type, payload)
      select id, type, payload::jsonb from incoming where id in (select event_id from matched)
    ), queued as (
      insert into webhook_deliveries (event_id, subscription_id) select event_id, subscription_id from matched
    )`;
  return { ids, ctes };
}

/**
 * Writes the events and their pending deliveries in one statement. Run it with the transaction of the change
 * that caused them: both commit or neither does. Returns the event ids, in order.
 */
export async function insertEvents(db: Kysely<DB>, events: OutgoingEvent[]): Promise<string[]> {
  if (!events.length) return [];
  const { ids, ctes } = eventWrites(events);
  await sql`with ${ctes} select 1`.execute(db);
  return ids;
}

export interface ClaimedDelivery {
  id: string;
  attempts: number;
  createdAt: Date;
  eventId: string;
  payload: Record<string, unknown>;
  subscriptionId: string;
  url: string;
  secretSealed: string;
  previousSecretSealed: string | null;
  previousSecretExpiresAt: Date | null;
}

/**
 * Takes up to `limit` due deliveries for this node: rows another node is claiming are skipped, not
 * waited for. A claim counts the attempt and moves the row ahead by the lease, so that a node that dies
 * mid-delivery leaves it due again once the lease is over.
 */
export async function claimDueDeliveries(db: Kysely<DB>, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  const claimed = await db.transaction().execute((trx) =>
    trx
      .updateTable('webhook_deliveries')
      .set({
        attempts: sql`attempts + 1`,
        last_attempt_at: sql`now()`,
        next_attempt_at: sql`now() + make_interval(secs => ${leaseMs / 1000})`,
      })
      .where(
        'id',
        'in',
        trx
          .selectFrom('webhook_deliveries')
          .select('id')
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', sql<Date>`now()`)
          .orderBy('next_attempt_at')
          .limit(limit)
          .forUpdate()
          .skipLocked(),
      )
      .returning(['id', 'attempts'])
      .execute(),
  );
  if (!claimed.length) return [];
  const rows = await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
    .innerJoin('webhook_subscriptions as s', 's.id', 'd.subscription_id')
    .select([
      'd.id',
      'd.created_at',
      'e.id as event_id',
      'e.payload',
      's.id as subscription_id',
      's.url',
      's.secret_sealed',
      's.previous_secret_sealed',
      's.previous_secret_expires_at',
    ])
    .where('d.id', 'in', claimed.map((row) => row.id))
    .execute();
  const attemptsOf = new Map(claimed.map((row) => [row.id, row.attempts]));
  return rows.map((row) => ({
    id: row.id,
    attempts: attemptsOf.get(row.id)!,
    createdAt: new Date(row.created_at),
    eventId: row.event_id,
    payload: row.payload,
    subscriptionId: row.subscription_id,
    url: row.url,
    secretSealed: row.secret_sealed,
    previousSecretSealed: row.previous_secret_sealed,
    previousSecretExpiresAt: row.previous_secret_expires_at && new Date(row.previous_secret_expires_at),
  }));
}

export interface AttemptResult {
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
}

/**
 * Records how the attempt went. Only the claim that made it may: once another node has claimed the row
 * again (this one outlived its lease), this answer is dropped.
 */
export async function finishAttempt(
  db: Kysely<DB>,
  claim: { id: string; attempts: number },
  result: AttemptResult,
  next: { status: WebhookDeliveryStatus; retryAt?: Date },
): Promise<boolean> {
  const done = next.status !== 'pending';
  const updated = await db
    .updateTable('webhook_deliveries')
    .set({
      status: next.status,
      last_status_code: result.statusCode,
      last_error: result.error,
      last_latency_ms: Math.round(result.latencyMs),
      ...(done ? { finished_at: sql`now()` } : { next_attempt_at: next.retryAt! }),
    })
    .where('id', '=', claim.id)
    .where('attempts', '=', claim.attempts)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return updated.numUpdatedRows > 0n;
}

/** Deliveries still to be made (the backlog), across every subscription. */
export async function countPendingDeliveries(db: Kysely<DB>): Promise<number> {
  const row = await db.selectFrom('webhook_deliveries').select((eb) => eb.fn.countAll<string>().as('n')).where('status', '=', 'pending').executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function recentDeliveries(db: Kysely<DB>, subscriptionId: string, limit: number) {
  return db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
    .select([
      'd.id',
      'e.id as event_id',
      'e.type as event_type',
      'd.status',
      'd.attempts',
      'd.last_status_code',
      'd.last_error',
      'd.last_latency_ms',
      'd.last_attempt_at',
      'd.next_attempt_at',
      'd.created_at',
    ])
    .where('d.subscription_id', '=', subscriptionId)
    .orderBy('d.created_at', 'desc')
    .limit(limit)
    .execute();
}

/** Makes a delivery due now again, with a fresh retry window; false when there is no such delivery. */
export async function requeueDelivery(db: Kysely<DB>, subscriptionId: string, deliveryId: string): Promise<boolean> {
  const updated = await db
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', attempts: 0, next_attempt_at: sql`now()`, created_at: sql`now()`, finished_at: null })
    .where('id', '=', deliveryId)
    .where('subscription_id', '=', subscriptionId)
    .executeTakeFirst();
  return updated.numUpdatedRows > 0n;
}
