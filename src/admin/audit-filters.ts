import { z } from 'zod';

import type { AuditQuery } from '../audit/index.ts';
import type { PageCursor } from '../db/index.ts';

/**
 * The audit log's filters, the same for the console (a GET form) and the API: who acted (an
 * account's email or id, or `cli` / `startup`), the target's id, the action, and a date range.
 * Dates are days (2026-12-01) in the viewer's time zone, `to` included; the API also takes a
 * moment with its offset (2026-12-01T09:30:00Z).
 */
export class AuditFilterError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export const AUDIT_ACTORS = ['cli', 'startup'] as const;

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const blankIsUnset = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);
const filterText = (max: number) => z.preprocess(blankIsUnset, z.string().trim().max(max).optional());
const moment = z.preprocess(blankIsUnset, z.string().trim().max(40).optional());

const filtersSchema = z.object({
  actor: filterText(254),
  target: filterText(200),
  action: z.preprocess(blankIsUnset, z.string().trim().regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'an action is like users.disable').optional()),
  from: moment,
  to: moment,
});

export type AuditFilters = z.infer<typeof filtersSchema>;

/** Milliseconds the zone is ahead of UTC at this moment. */
function offsetOf(timeZone: string, at: number): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(at);
  const part = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  return Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second')) - Math.floor(at / 1000) * 1000;
}

/** The first moment of a day in a zone (the offset checked twice: the day may start in a change of offset). */
function startOfDay(year: number, month: number, day: number, timeZone: string): Date {
  const wall = Date.UTC(year, month - 1, day);
  const guess = wall - offsetOf(timeZone, wall);
  return new Date(wall - offsetOf(timeZone, guess));
}

/** A day (its start, or the start of the next for `to`) or a moment with an offset; throws for anything else. */
function momentOf(field: 'from' | 'to', text: string, timeZone: string, moments: boolean): Date {
  const day = DAY.exec(text);
  if (day) {
    const [year, month, date] = [Number(day[1]), Number(day[2]), Number(day[3])];
    const check = new Date(Date.UTC(year, month - 1, date));
    if (check.getUTCFullYear() === year && check.getUTCMonth() === month - 1 && check.getUTCDate() === date && year >= 1970) {
      return startOfDay(year, month, date + (field === 'to' ? 1 : 0), timeZone);
    }
  } else if (moments && z.iso.datetime({ offset: true }).safeParse(text).success) {
    return new Date(text);
  }
  throw new AuditFilterError(field, moments ? `${field} must be a date like 2026-12-01 or a moment like 2026-12-01T09:30:00Z` : `${field} must be a date like 2026-12-01`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The query for listAuditEvents from a request's filters; `AuditFilterError` names the first
 * bad one. `moments`: the API's callers may give exact moments, not only days.
 */
export function auditQueryOf(input: Record<string, unknown>, options: { timeZone: string; cursor?: PageCursor | undefined; page?: number | undefined; perPage: number; moments?: boolean }): { filters: AuditFilters; query: AuditQuery } {
  const parsed = filtersSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AuditFilterError(String(issue.path[0] ?? 'query'), issue.message);
  }
  const filters = parsed.data;
  const from = filters.from === undefined ? undefined : momentOf('from', filters.from, options.timeZone, options.moments ?? false);
  const until = filters.to === undefined ? undefined : momentOf('to', filters.to, options.timeZone, options.moments ?? false);
  if (from && until && from >= until) throw new AuditFilterError('to', 'to must not be before from');
  const actor = filters.actor;
  return {
    filters,
    query: {
      actorId: actor && UUID.test(actor) ? actor : undefined,
      actorEmail: actor && !UUID.test(actor) ? actor : undefined,
      targetId: filters.target,
      action: filters.action,
      from,
      until,
      cursor: options.cursor,
      page: options.page,
      perPage: options.perPage,
    },
  };
}
