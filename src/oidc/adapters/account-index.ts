import { sql, type Kysely } from 'kysely';
import Provider, { type Adapter, type AdapterConstructor, type AdapterPayload } from 'oidc-provider';

import type { DB } from '../../db/index.ts';

const INDEXED = new Set(['Session', 'Grant']);

/**
 * Records in SQL which sessions and grants belong to which account, whichever store holds them,
 * so that a password reset (or a disabled account) can end them all; for sessions, also where and
 * when each was last used, for the person's list of their sessions.
 */
export function indexedByAccount(Inner: AdapterConstructor, db: Kysely<DB>): AdapterConstructor {
  return class AccountIndexedAdapter implements Adapter {
    readonly #inner: Adapter;
    readonly #indexed: boolean;

    constructor(private readonly model: string) {
      this.#inner = new Inner(model);
      this.#indexed = INDEXED.has(model);
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
      await this.#inner.upsert(id, payload, expiresIn);
      if (!this.#indexed || !payload.accountId) return;
      const expires_at = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
      // The request saving a session (node-oidc-provider's async context) tells where it is used from.
      const request = this.model === 'Session' ? Provider.ctx : undefined;
      const ip = request?.ip ?? null;
      const user_agent = request?.get('user-agent')?.slice(0, 512) || null;
      await db
        .insertInto('oidc_account_index')
        .values({ account_id: payload.accountId, model: this.model, id, expires_at, ip, user_agent })
        .onConflict((oc) =>
          oc.columns(['model', 'id']).doUpdateSet({
            account_id: payload.accountId,
            expires_at,
            seen_at: sql`now()`,
            ip: sql`coalesce(excluded.ip, oidc_account_index.ip)`,
            user_agent: sql`coalesce(excluded.user_agent, oidc_account_index.user_agent)`,
          }),
        )
        .execute();
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
      if (this.#indexed) await db.deleteFrom('oidc_account_index').where('model', '=', this.model).where('id', '=', id).execute();
    }
    revokeByGrantId(grantId: string) {
      return this.#inner.revokeByGrantId(grantId);
    }
  };
}

/** Ends every session and revokes every grant (and with it every token) of the account. */
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

export async function purgeExpiredAccountIndex(db: Kysely<DB>): Promise<void> {
  await db.deleteFrom('oidc_account_index').where('expires_at', '<=', sql<Date>`now()`).execute();
}
