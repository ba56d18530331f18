import { type Kysely, sql } from 'kysely';

import { type DB, listPage, type PageCursor, type PageRead } from '../db/index.ts';

/** Who acted when no account did: the command line (`npm run admin`) or start-up (ADMIN_EMAIL). */
export type ActorKind = 'cli' | 'startup';

export interface AuditEvent {
  /** The account that acted; null for the system (CLI, a failed sign-in by an unknown person). */
  actorId: string | null;
  /** Set when no account acted: the command line or start-up. */
  actorKind?: ActorKind | undefined;
  action: string;
  targetType?: string | undefined;
  targetId?: string | undefined;
  outcome?: 'done' | 'denied' | undefined;
  ip?: string | null | undefined;
  changes?: Record<string, unknown> | undefined;
}

export interface AuditQuery {
  actorId?: string | undefined;
  /** The acting account's email (any case), or `cli` / `startup` for those actors. */
  actorEmail?: string | undefined;
  targetId?: string | undefined;
  action?: string | undefined;
  /** Events at or after this moment. */
  from?: Date | undefined;
  /** Events before this moment. */
  until?: Date | undefined;
  /** Where the page starts (from `next` or `previous` of an earlier page); the first page without it. */
  cursor?: PageCursor | undefined;
  /** A page by number, without a cursor (older API callers); deep pages cost more. */
  page?: number | undefined;
  perPage: number;
}

export async function insertAuditEvent(db: Kysely<DB>, event: AuditEvent): Promise<void> {
  await db
    .insertInto('audit_events')
    .values({
      actor_id: event.actorId,
      actor_kind: event.actorKind ?? null,
      action: event.action,
      target_type: event.targetType ?? null,
      target_id: event.targetId ?? null,
      outcome: event.outcome ?? 'done',
      ip: event.ip ?? null,
      changes: event.changes ? JSON.stringify(event.changes) : null,
    })
    .execute();
}

/** The events by actor, target, action and time. */
function matchingEvents(db: Kysely<DB>, query: AuditQuery) {
  let base = db.selectFrom('audit_events');
  if (query.actorId) base = base.where('actor_id', '=', query.actorId);
  if (query.actorEmail === 'cli' || query.actorEmail === 'startup') base = base.where('actor_kind', '=', query.actorEmail);
  else if (query.actorEmail) {
    const email = query.actorEmail.trim().toLowerCase();
    base = base.where('actor_id', 'in', db.selectFrom('accounts').select('id').where(sql<string>`lower(email)`, '=', email));
  }
  if (query.targetId) base = base.where('target_id', '=', query.targetId);
  if (query.action) base = base.where('action', '=', query.action);
  if (query.from) base = base.where('at', '>=', query.from);
  if (query.until) base = base.where('at', '<', query.until);
  return base;
}

/** One page of the matches, newest first by id, read from the (filter, id) indexes of migration 019. */
function pageOfEvents(db: Kysely<DB>, query: AuditQuery, read: PageRead) {
  let rows = matchingEvents(db, query).selectAll();
  if (read.newerThan !== undefined) rows = rows.where('id', '>', read.newerThan).orderBy('id', 'asc');
  else {
    if (read.olderThan !== undefined) rows = rows.where('id', '<', read.olderThan);
    rows = rows.orderBy('id', 'desc');
  }
  return rows.limit(read.limit).offset(read.offset).execute();
}

/**
 * A page of events, newest first, by actor, target, action and time; with how many match (exact while few,
 * else an estimate: `totalExact` false) and the cursors of the pages either side.
 */
export async function listAuditEvents(db: Kysely<DB>, query: AuditQuery) {
  return listPage(db, query, (read) => pageOfEvents(db, query, read), matchingEvents(db, query));
}
