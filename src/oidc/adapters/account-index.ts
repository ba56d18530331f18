import { sql, type Kysely } from 'kysely';
import Provider, { type Adapter, type AdapterConstructor, type AdapterPayload } from 'oidc-provider';

import { BoundedMap } from '../../bounded-map.ts';
import type { DB } from '../../db/index.ts';
import { currentRoute } from '../request-prefetch.ts';
import { type BatchStatements, BatchedWrites, columnOf, eachModel } from './batched-writes.ts';

const INDEXED = new Set(['Session', 'Grant']);

/** An index row outlives its item by this much, so that the saves of a sliding session seldom need to move it. */
const INDEX_HEADROOM_MS = 24 * 60 * 60 * 1000;
const REMEMBERED_ROWS = 50_000;

/**
 * Whether the request destroys a session only to save it again under a new id: node-oidc-provider does so when it
 * resumes an authorization (Session#resetIdentifier). The save's index statement then removes the old row.
 */
const renamingSession = () => {
  const route = currentRoute();
  return route === 'resume' || route === 'device_resume';
};

/** How stale a session's "last used" may get before a save writes it again. */
const LAST_USED_PRECISION_MS = 5 * 60 * 1000;

/**
 * The index rows this process wrote, so that saving a session or grant again (every authorization saves
 * the session) costs no SQL round trip while its row already names the account, lasts long enough,
 * was written a short while ago and from the same address.
 */
function writtenRows() {
  const rows = new BoundedMap<string, { accountId: string; expiresAt: number; writtenAt: number; ip: string | null }>(REMEMBERED_ROWS);
  return {
    covers(key: string, accountId: string, expiresAt: number, ip: string | null) {
      const row = rows.get(key);
      return (
        row !== undefined &&
        row.accountId === accountId &&
        expiresAt <= row.expiresAt &&
        (ip === null || ip === row.ip) &&
        Date.now() - row.writtenAt < LAST_USED_PRECISION_MS
      );
    },
    remember(key: string, accountId: string, expiresAt: number, ip: string | null) {
      // Forgetting only costs a write: the oldest entry beyond the bound is dropped.
      rows.set(key, { accountId, expiresAt, writtenAt: Date.now(), ip });
    },
    forget: (key: string) => rows.delete(key),
  };
}

interface IndexRow {
  account_id: string;
  model: string;
  id: string;
  expires_at: Date | null;
  ip: string | null;
  user_agent: string | null;
  client_id: string | null;
  session_uid: string | null;
}

interface IndexWrites {
  index: IndexRow;
  unindex: { model: string; id: string };
}

/**
 * Each write for any number of rows as one statement (one array per column). Indexing a session under a new id
 * also removes the row of its old id (the same account and uid): a resumed authorization gives the session a new
 * id, and its destroy of the old one leaves the row to this statement.
 */
function indexStatements(db: Kysely<DB>): BatchStatements<IndexWrites> {
  return {
    index: (rows) =>
      sql`
        with incoming as (
          select * from unnest(${columnOf(rows, 'account_id')}::uuid[], ${columnOf(rows, 'model')}::text[], ${columnOf(rows, 'id')}::text[],
            ${columnOf(rows, 'expires_at')}::timestamptz[], ${columnOf(rows, 'ip')}::text[], ${columnOf(rows, 'user_agent')}::text[],
            ${columnOf(rows, 'client_id')}::text[], ${columnOf(rows, 'session_uid')}::text[])
            as r(account_id, model, id, expires_at, ip, user_agent, client_id, session_uid)
        ), renamed as (
          delete from oidc_account_index o using incoming r
          where r.session_uid is not null and o.model = r.model and o.account_id = r.account_id and o.session_uid = r.session_uid and o.id <> r.id
        )
        insert into oidc_account_index (account_id, model, id, expires_at, ip, user_agent, client_id, session_uid)
        select * from incoming
        on conflict (model, id) do update set account_id = excluded.account_id, expires_at = excluded.expires_at, seen_at = now(),
          ip = coalesce(excluded.ip, oidc_account_index.ip), user_agent = coalesce(excluded.user_agent, oidc_account_index.user_agent),
          session_uid = coalesce(excluded.session_uid, oidc_account_index.session_uid)`.execute(db),
    unindex: (entries) => eachModel(entries, (model, ids) => sql`delete from oidc_account_index where model = ${model} and id = any(${ids}::text[])`.execute(db)),
  };
}

/**
 * Records in SQL which sessions and grants belong to which account, whichever store holds them, by the
 * keys they are stored under (below hashedIds: a session's hashed id, never the cookie value),
 * so that a password reset (or a disabled account) can end them all; for sessions, also where and
 * when each was last used, for the person's list of their sessions.
 */
export function indexedByAccount(Inner: AdapterConstructor, db: Kysely<DB>, { batched = false }: { batched?: boolean } = {}): AdapterConstructor {
  const written = writtenRows();
  const statements = indexStatements(db);
  // The embedded database: writes of concurrent requests share statements (batched-writes.ts).
  const writes = batched ? new BatchedWrites<IndexWrites>(statements) : undefined;
  return class AccountIndexedAdapter implements Adapter {
    readonly #inner: Adapter;
    readonly #indexed: boolean;

    constructor(private readonly model: string) {
      this.#inner = new Inner(model);
      this.#indexed = INDEXED.has(model);
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
      await this.#inner.upsert(id, payload, expiresIn);
      const accountId = payload.accountId;
      if (!this.#indexed || !accountId) return;
      const key = `${this.model}:${id}`;
      const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
      // The request saving a session (node-oidc-provider's async context) tells where it is used from.
      const request = this.model === 'Session' ? Provider.ctx : undefined;
      const ip = request?.ip ?? null;
      if (written.covers(key, accountId, expiresAt, ip)) return;
      const recorded = expiresAt + INDEX_HEADROOM_MS;
      const expires_at = Number.isFinite(recorded) ? new Date(recorded) : null;
      const user_agent = request?.get('user-agent')?.slice(0, 512) || null;
      const client_id = this.model === 'Grant' && typeof payload.clientId === 'string' ? payload.clientId : null;
      const session_uid = this.model === 'Session' && typeof payload.uid === 'string' ? payload.uid : null;
      const row = { account_id: accountId, model: this.model, id, expires_at, ip, user_agent, client_id, session_uid };
      await (writes ? writes.write('index', key, row) : statements.index([row]));
      written.remember(key, accountId, recorded, ip);
    }
    find(id: string) {
      return this.#inner.find(id);
    }
    findByUid(uid: string) {
      return this.#inner.findByUid(uid);
    }
    findByUserCode(userCode: string) {
      return this.#inner.findByUserCode(userCode);
    }
    consume(id: string) {
      return this.#inner.consume(id);
    }
    async destroy(id: string) {
      await this.#inner.destroy(id);
      const key = `${this.model}:${id}`;
      written.forget(key);
      if (!this.#indexed || (this.model === 'Session' && renamingSession())) return;
      const entry = { model: this.model, id };
      await (writes ? writes.write('unindex', key, entry) : statements.unindex([entry]));
    }
    revokeByGrantId(grantId: string) {
      return this.#inner.revokeByGrantId(grantId);
    }
  };
}

/** The account's sessions (or grants) the index holds that have not expired, last used first. */
export async function liveIndexEntries(db: Kysely<DB>, accountId: string, model: 'Session' | 'Grant') {
  return db
    .selectFrom('oidc_account_index')
    .select(['id', 'ip', 'user_agent', 'created_at', 'seen_at'])
    .where('account_id', '=', accountId)
    .where('model', '=', model)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
    .orderBy('seen_at', 'desc')
    .execute();
}

/** Revokes every grant (and with it every token) a client was given, as when the client is deleted. */
export async function revokeGrantsOfClient(db: Kysely<DB>, Adapter: AdapterConstructor, clientId: string): Promise<number> {
  const rows = await db.selectFrom('oidc_account_index').select('id').where('model', '=', 'Grant').where('client_id', '=', clientId).execute();
  const grants = new Adapter('Grant');
  const tokens = new Adapter('AccessToken');
  for (const { id } of rows) {
    await tokens.revokeByGrantId(id);
    await grants.destroy(id);
  }
  return rows.length;
}

/** Ends every session and revokes every grant (and with it every token) of the account; `Adapter` addresses items by storage key. */
export async function endEverythingOf(db: Kysely<DB>, Adapter: AdapterConstructor, accountId: string): Promise<number> {
  const rows = await db.selectFrom('oidc_account_index').select(['model', 'id']).where('account_id', '=', accountId).execute();
  const sessions = new Adapter('Session');
  const grants = new Adapter('Grant');
  // Either adapter removes every token of a grant, whatever its model, in one call.
  const tokens = new Adapter('AccessToken');
  for (const { model, id } of rows) {
    if (model === 'Session') await sessions.destroy(id);
    if (model === 'Grant') {
      await tokens.revokeByGrantId(id);
      await grants.destroy(id);
    }
  }
  await db.deleteFrom('oidc_account_index').where('account_id', '=', accountId).execute();
  return rows.length;
}
