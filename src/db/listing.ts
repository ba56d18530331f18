import { CompiledQuery, type Kysely, type SelectQueryBuilder, sql } from 'kysely';

/**
 * Where a page of a long list starts: after a row (the next page) or before it (the previous one). Lists are
 * read by keyset, from an index in their order, so a deep page costs what the first one does.
 */
export type PageCursor = { after: string } | { before: string };

/** How many rows match: exact up to EXACT_COUNT_LIMIT, the query planner's estimate beyond. */
export interface RowCount {
  count: number;
  exact: boolean;
}

/** Counting more rows than this would read them all; past it the count is an estimate. */
export const EXACT_COUNT_LIMIT = 1000;

/** An estimate to two significant digits: it is not more precise than that. */
const roughly = (n: number) => {
  if (n < 100) return Math.round(n);
  const scale = 10 ** (Math.floor(Math.log10(n)) - 1);
  return Math.round(n / scale) * scale;
};

/**
 * The rows `query` (a select without columns) would return, counted exactly while there are no more than
 * EXACT_COUNT_LIMIT (reading at most that many), else the planner's estimate from the table's statistics.
 */
export async function countRows(db: Kysely<any>, query: SelectQueryBuilder<any, any, any>): Promise<RowCount> {
  const rows = query.select(sql<number>`1`.as('one'));
  const capped = await db
    .selectFrom(rows.limit(EXACT_COUNT_LIMIT + 1).as('capped'))
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  const count = Number(capped.n);
  if (count <= EXACT_COUNT_LIMIT) return { count, exact: true };
  const compiled = rows.compile();
  const plan = await db.executeQuery<{ 'QUERY PLAN': unknown }>(CompiledQuery.raw(`explain (format json) ${compiled.sql}`, [...compiled.parameters]));
  const json = plan.rows[0]!['QUERY PLAN'];
  const estimate = Number((typeof json === 'string' ? JSON.parse(json) : json)[0].Plan['Plan Rows']);
  // The capped count is a floor: an estimate below it would be wrong for sure.
  return { count: roughly(Math.max(estimate, count)), exact: false };
}

/** How to read one page of a list kept newest first: from a row on, in one direction, with at most `limit` rows. */
export interface PageRead {
  /** Rows older than this one, newest first (the next page). */
  olderThan?: string | undefined;
  /** Rows newer than this one, oldest first (the previous page, read backwards). */
  newerThan?: string | undefined;
  /** Rows to skip: only for callers that still page by number. */
  offset: number;
  limit: number;
}

/**
 * A page of at most `perPage` rows from `fetch`, which is given the direction to read and asked for one row
 * more than the page (to know whether another page follows); with the cursors of the pages next to it.
 * Without a cursor, `page` (from 1) pages by number, by OFFSET: deep numbered pages cost more.
 */
export async function keysetPage<Row extends { id: string }>(
  position: { cursor?: PageCursor | undefined; page?: number | undefined },
  perPage: number,
  fetch: (read: PageRead) => Promise<Row[]>,
): Promise<{ items: Row[]; next: PageCursor | null; previous: PageCursor | null }> {
  const { cursor } = position;
  if (cursor && 'before' in cursor) {
    const rows = await fetch({ newerThan: cursor.before, offset: 0, limit: perPage + 1 });
    const items = rows.slice(0, perPage).reverse();
    return {
      items,
      next: items.length ? { after: items.at(-1)!.id } : null,
      previous: rows.length > perPage ? { before: items[0]!.id } : null,
    };
  }
  const offset = cursor ? 0 : ((position.page ?? 1) - 1) * perPage;
  const rows = await fetch({ olderThan: cursor?.after, offset, limit: perPage + 1 });
  const items = rows.slice(0, perPage);
  return {
    items,
    next: rows.length > perPage ? { after: items.at(-1)!.id } : null,
    previous: cursor && items.length ? { before: items[0]!.id } : null,
  };
}

/** What a list query says about the page it wants: a cursor, or a page number, and the page's size. */
export interface PagePosition {
  cursor?: PageCursor | undefined;
  page?: number | undefined;
  perPage: number;
}

/**
 * The page of a list the admin API and console show: its rows read by keyset (`fetch`, see keysetPage), how
 * many rows `matching` selects (see countRows), the page number when paging by number, and the cursors of
 * the pages either side.
 */
export async function listPage<Row extends { id: string }>(
  db: Kysely<any>,
  position: PagePosition,
  fetch: (read: PageRead) => Promise<Row[]>,
  matching: SelectQueryBuilder<any, any, any>,
) {
  const [page, total] = await Promise.all([keysetPage(position, position.perPage, fetch), countRows(db, matching)]);
  return {
    items: page.items,
    total: total.count,
    totalExact: total.exact,
    ...(position.cursor ? {} : { page: position.page ?? 1 }),
    perPage: position.perPage,
    next: page.next,
    previous: page.previous,
  };
}
