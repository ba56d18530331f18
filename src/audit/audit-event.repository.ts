import type { Kysely } from 'kysely';

import type { DB } from '../db/index.ts';

export interface AuditEvent {
  /** The account that acted; null for the system (CLI, a failed sign-in by an unknown person). */
  actorId: string | null;
  action: string;
  targetType?: string | undefined;
  targetId?: string | undefined;
  outcome?: 'done' | 'denied' | undefined;
  ip?: string | null | undefined;
  changes?: Record<string, unknown> | undefined;
}

export interface AuditQuery {
  actorId?: string | undefined;
  targetId?: string | undefined;
  action?: string | undefined;
  page: number;
  perPage: number;
}

export async function insertAuditEvent(db: Kysely<DB>, event: AuditEvent): Promise<void> {
  await db
    .insertInto('audit_events')
    .values({
      actor_id: event.actorId,
      action: event.action,
      target_type: event.targetType ?? null,
      target_id: event.targetId ?? null,
      outcome: event.outcome ?? 'done',
      ip: event.ip ?? null,
      changes: event.changes ? JSON.stringify(event.changes) : null,
    })
    .execute();
}

/** A page of events, newest first, by actor, target and action; with the count of all matches. */
export async function listAuditEvents(db: Kysely<DB>, query: AuditQuery) {
  let base = db.selectFrom('audit_events');
  if (query.actorId) base = base.where('actor_id', '=', query.actorId);
  if (query.targetId) base = base.where('target_id', '=', query.targetId);
  if (query.action) base = base.where('action', '=', query.action);
  const { total } = await base.select((eb) => eb.fn.countAll<string>().as('total')).executeTakeFirstOrThrow();
  const items = await base
    .selectAll()
    .orderBy('id', 'desc')
    .limit(query.perPage)
    .offset((query.page - 1) * query.perPage)
    .execute();
  return { items, total: Number(total), page: query.page, perPage: query.perPage };
}
