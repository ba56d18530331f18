import { type Kysely, sql } from 'kysely';
import type { Adapter, AdapterPayload } from 'oidc-provider';

import type { DB } from '../../db/index.ts';
import { type BatchStatements, BatchedWrites, columnOf, eachModel } from './batched-writes.ts';
import { type DeferredRow, DeferredWrites, deferredModels } from './deferred-writes.ts';
import { type CachedRow, EmbeddedRowCache, keyOf } from './embedded-row-cache.ts';
import { grantableModels } from './grantable.ts';

const epochSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** One cache and one queue of writes per database handle, however many adapters are made over it. */
const caches = new WeakMap<Kysely<DB>, EmbeddedRowCache>();
const queues = new WeakMap<Kysely<DB>, BatchedWrites<ModelWrites>>();
const deferrals = new WeakMap<Kysely<DB>, DeferredWrites>();

function cacheOf(db: Kysely<DB>): EmbeddedRowCache {
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new EmbeddedRowCache()));
  return cache;
}

function writesOf(db: Kysely<DB>): BatchedWrites<ModelWrites> {
  let writes = queues.get(db);
  if (!writes) queues.set(db, (writes = new BatchedWrites(modelStatements(db))));
  return writes;
}

function deferredOf(db: Kysely<DB>): DeferredWrites {
  let deferred = deferrals.get(db);
  if (!deferred) {
    const writes = writesOf(db);
    const write = async (rows: DeferredRow[]) => {
      const outcomes = await Promise.allSettled(
        rows.map(({ model, id, row }) =>
          row ? writes.write('upsert', keyOf(model, id), modelRowOf(model, id, row)) : writes.write('destroy', keyOf(model, id), { model, id }),
        ),
      );
      return rows.filter((_, index) => outcomes[index]!.status === 'rejected');
    };
    // A row the table refused is forgotten, so that memory says what the table says.
    deferrals.set(db, (deferred = new DeferredWrites(write, ({ model, id }) => cacheOf(db).delete(model, id))));
  }
  return deferred;
}

/**
 * Writes now what the embedded database's memory holds back (src/oidc/adapters/deferred-writes.ts): at shutdown,
 * before the database closes.
 */
export function flushDeferredWrites(db: Kysely<DB>): Promise<void> {
  return deferrals.get(db)?.flush() ?? Promise.resolve();
}

interface ModelKey {
  model: string;
  id: string;
}

interface ModelWrites {
  upsert: ModelRow;
  destroy: ModelKey;
  consume: ModelKey & { at: Date };
}

/** Each write for any number of rows as one statement (one array per column), so that one prepared plan serves them all. */
function modelStatements(db: Kysely<DB>): BatchStatements<ModelWrites> {
  return {
    upsert: (rows) =>
      sql`
        insert into oidc_models (model, id, payload, grant_id, user_code, uid, expires_at, consumed_at)
        select * from unnest(${columnOf(rows, 'model')}::text[], ${columnOf(rows, 'id')}::text[], ${columnOf(rows, 'payload')}::jsonb[],
          ${columnOf(rows, 'grant_id')}::text[], ${columnOf(rows, 'user_code')}::text[], ${columnOf(rows, 'uid')}::text[],
          ${columnOf(rows, 'expires_at')}::timestamptz[], ${columnOf(rows, 'consumed_at')}::timestamptz[])
        on conflict (model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id, user_code = excluded.user_code,
          uid = excluded.uid, expires_at = excluded.expires_at, consumed_at = excluded.consumed_at`.execute(db),
    destroy: (keys) =>
      eachModel(keys, (model, ids) => sql`delete from oidc_models where model = ${model} and id = any(${ids}::text[])`.execute(db)),
    consume: (keys) =>
      eachModel(keys, (model, ids, items) =>
        sql`
          update oidc_models m set consumed_at = c.at
          from unnest(${ids}::text[], ${columnOf(items, 'at')}::timestamptz[]) as c(id, at)
          where m.model = ${model} and m.id = any(${ids}::text[]) and m.id = c.id`.execute(db),
      ),
  };
}

interface ModelRow {
  model: string;
  id: string;
  /** JSON. */
  payload: string;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: Date | null;
  consumed_at: Date | null;
}

function modelRowOf(model: string, id: string, row: CachedRow): ModelRow {
  return {
    model,
    id,
    payload: row.payload,
    grant_id: row.grantId ?? null,
    user_code: row.userCode ?? null,
    uid: row.uid ?? null,
    expires_at: row.expiresAt === Infinity ? null : new Date(row.expiresAt),
    consumed_at: row.consumed === undefined ? null : new Date(row.consumed * 1000),
  };
}

function payloadOf(row: Pick<CachedRow, 'payload' | 'consumed'>): AdapterPayload {
  const payload = JSON.parse(row.payload) as AdapterPayload;
  return row.consumed === undefined ? payload : { ...payload, consumed: row.consumed };
}

export interface SqlAdapterOptions {
  /**
   * Keep the rows in memory too (EmbeddedRowCache), for the embedded database only: its one process is the
   * only one that reads and writes them. Never with a database other nodes share.
   */
  rowsInMemory?: boolean;
}

/** node-oidc-provider's models in one SQL table, keyed by (model, id); expiry is a column (src/retention purges expired rows). */
export function createSqlAdapter(db: Kysely<DB>, { rowsInMemory = false }: SqlAdapterOptions = {}) {
  const notExpired = sql<boolean>`(expires_at is null or expires_at > now())`;
  const cache = rowsInMemory ? cacheOf(db) : undefined;
  const statements = modelStatements(db);
  const writes = cache ? writesOf(db) : undefined;

  return class SqlAdapter implements Adapter {
    /** Set for the deferred models when embedded: their writes reach the table as DeferredWrites says. */
    readonly #deferred: DeferredWrites | undefined;

    constructor(private readonly model: string) {
      this.#deferred = cache && deferredModels.has(model) ? deferredOf(db) : undefined;
    }

    /** A deferred model's write: memory now, the row's last state in the table within DEFERRED_WRITE_DELAY_MS. */
    private async defer(id: string, row: CachedRow | null): Promise<void> {
      const inMemory = () => {
        if (row) cache!.set(this.model, id, row);
        else cache!.delete(this.model, id);
        this.#deferred!.set(keyOf(this.model, id), this.model, id, row);
      };
      // Nothing for the table yet, but counted as a write: a table read already under way must not keep its older row.
      await cache!.write(inMemory, async () => {}, () => {});
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : undefined;
      const values = {
        model: this.model,
        id,
        payload: JSON.stringify(payload),
        grant_id: payload.grantId ?? null,
        user_code: payload.userCode ?? null,
        uid: payload.uid ?? null,
        expires_at: expiresAt === undefined ? null : new Date(expiresAt),
        consumed_at: null,
      };
      if (!cache) return void (await statements.upsert([values]));
      const row: CachedRow = {
        payload: values.payload,
        expiresAt: expiresAt ?? Infinity,
        ...(payload.grantId ? { grantId: payload.grantId } : {}),
        ...(payload.uid ? { uid: payload.uid } : {}),
        ...(payload.userCode ? { userCode: payload.userCode } : {}),
      };
      if (this.#deferred) return this.defer(id, row);
      await cache.write(() => cache.set(this.model, id, row), () => writes!.write('upsert', keyOf(this.model, id), values), () => cache.delete(this.model, id));
    }

    private async findWhere(column: 'id' | 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
      const fromTable = () =>
        db
          .selectFrom('oidc_models')
          .select(['id', 'payload', 'consumed_at', 'expires_at', 'grant_id', 'uid', 'user_code'])
          .where('model', '=', this.model)
          .where(column, '=', value)
          .where(notExpired)
          .executeTakeFirst();
      if (!cache) {
        const row = await fromTable();
        if (!row) return undefined;
        return row.consumed_at ? { ...row.payload, consumed: epochSeconds(row.consumed_at) } : row.payload;
      }
      const id = column === 'id' ? value : column === 'uid' ? cache.idByUid(this.model, value) : cache.idByUserCode(this.model, value);
      const cached = id === undefined ? undefined : cache.get(this.model, id);
      if (cached) return payloadOf(cached);
      const pending = column === 'id' ? this.#deferred?.get(keyOf(this.model, value)) : undefined;
      if (pending !== undefined) return pending && pending.expiresAt > Date.now() ? payloadOf(pending) : undefined;
      if (column === 'id' && cache.isAbsent(this.model, value)) return undefined;
      const found = await cache.read(fromTable, (row) => {
        if (row) cache.set(this.model, row.id, rowFromTable(row));
        else if (column === 'id') cache.markAbsent(this.model, value);
      });
      return found ? payloadOf(rowFromTable(found)) : undefined;
    }

    find(id: string) {
      return this.findWhere('id', id);
    }

    findByUid(uid: string) {
      return this.findWhere('uid', uid);
    }

    findByUserCode(userCode: string) {
      return this.findWhere('user_code', userCode);
    }

    async consume(id: string): Promise<void> {
      // Without memory: the database's clock, which every node shares.
      if (!cache) {
        await db.updateTable('oidc_models').set({ consumed_at: sql<Date>`now()` }).where('model', '=', this.model).where('id', '=', id).execute();
        return;
      }
      const at = new Date();
      const pending = this.#deferred?.get(keyOf(this.model, id));
      const current = this.#deferred && (pending === undefined ? cache.get(this.model, id) : pending);
      // null: destroyed, and its delete still to come; undefined: only the table may have it.
      if (current !== undefined) return current ? this.defer(id, { ...current, consumed: epochSeconds(at) }) : undefined;
      const write = () => writes!.write('consume', keyOf(this.model, id), { model: this.model, id, at });
      await cache.write(() => cache.consume(this.model, id, epochSeconds(at)), write, () => cache.delete(this.model, id));
    }

    async destroy(id: string): Promise<void> {
      if (!cache) return void (await statements.destroy([{ model: this.model, id }]));
      if (this.#deferred) return this.defer(id, null);
      await cache.write(() => cache.delete(this.model, id), () => writes!.write('destroy', keyOf(this.model, id), { model: this.model, id }), () => {});
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const inTable = async () => {
        await db.deleteFrom('oidc_models').where('model', 'in', grantableModels).where('grant_id', '=', grantId).execute();
      };
      if (!cache) return inTable();
      const inMemory = () => {
        cache.deleteGrant(grantId);
        deferrals.get(db)?.revokeGrant(grantId);
      };
      await cache.write(inMemory, () => writes!.run(inTable), () => {});
    }
  };
}

function rowFromTable(row: {
  payload: Record<string, unknown>;
  consumed_at: Date | null;
  expires_at: Date | null;
  grant_id: string | null;
  uid: string | null;
  user_code: string | null;
}): CachedRow {
  return {
    payload: JSON.stringify(row.payload),
    expiresAt: row.expires_at ? row.expires_at.getTime() : Infinity,
    ...(row.consumed_at ? { consumed: epochSeconds(row.consumed_at) } : {}),
    ...(row.grant_id ? { grantId: row.grant_id } : {}),
    ...(row.uid ? { uid: row.uid } : {}),
    ...(row.user_code ? { userCode: row.user_code } : {}),
  };
}
