import { sql, type Kysely } from 'kysely';
import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider';

import type { DB } from '../../db/index.ts';

const INDEXED = new Set(['Session', 'Grant']);

/**
 * Records in SQL which sessions and grants belong to which account, whichever store holds them,
 * so that a password reset (or a disabled account) can end them all.
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
      await db
        .insertInto('oidc_account_index')
        .values({ account_id: payload.accountId, model: this.model, id, expires_at })
        .onConflict((oc) => oc.columns(['model', 'id']).doUpdateSet({ account_id: payload.accountId, expires_at }))
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
