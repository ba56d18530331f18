/**
 * The cursors of long lists (users, audit log) as the API and the console's links carry them: opaque text,
 * base64url of `after:<id>` or `before:<id>`, from the `next` and `previous` of an earlier page.
 */
import type { PageCursor } from '../db/index.ts';

/** A cursor this API never gave: altered, cut short, or another list's. */
export class BadCursorError extends Error {
  readonly field = 'cursor';
  constructor() {
    super('cursor is not one this list gave (take it from next or previous of a page)');
  }
}

export function cursorText(cursor: PageCursor | null): string | null {
  if (!cursor) return null;
  const [direction, id] = 'after' in cursor ? ['after', cursor.after] : ['before', cursor.before];
  return Buffer.from(`${direction}:${id}`).toString('base64url');
}

/** The cursor in `text`, whose id must look like this list's ids; BadCursorError otherwise. Blank is none. */
export function parseCursor(text: unknown, idPattern: RegExp): PageCursor | undefined {
  if (text === undefined || text === '') return undefined;
  if (typeof text !== 'string' || text.length > 200) throw new BadCursorError();
  const match = /^(after|before):(.+)$/.exec(Buffer.from(text, 'base64url').toString());
  if (!match || !idPattern.test(match[2]!)) throw new BadCursorError();
  return match[1] === 'after' ? { after: match[2]! } : { before: match[2]! };
}

export const ACCOUNT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Audit events are numbered (bigint). */
export const EVENT_ID = /^[1-9]\d{0,18}$/;

/** A list's page as the API and console show it: its cursors as text. */
export function withCursorText<T extends { next: PageCursor | null; previous: PageCursor | null }>(list: T) {
  return { ...list, next: cursorText(list.next), previous: cursorText(list.previous) };
}
