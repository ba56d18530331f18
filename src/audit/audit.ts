import type { Kysely } from 'kysely';

import type { DB } from '../db/index.ts';
import { type AuditEvent, insertAuditEvent } from './audit-event.repository.ts';

export type RecordAudit = (event: AuditEvent) => Promise<void>;

export function auditRecorder(db: Kysely<DB>): RecordAudit {
  return (event) => insertAuditEvent(db, event);
}

/** Field by field, what an update changed: { field: [before, after] }. */
export function diff(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, [unknown, unknown]> {
  const changes: Record<string, [unknown, unknown]> = {};
  for (const key of Object.keys(after)) {
    if (key === 'updated_at') continue;
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) changes[key] = [before[key], after[key]];
  }
  return changes;
}
