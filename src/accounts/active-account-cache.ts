import type { Kysely } from 'kysely';

import { BoundedMap } from '../bounded-map.ts';
import type { DB } from '../db/index.ts';
import type { AccountVersions } from './account-versions.ts';
import { findAccountById, findAccountUnlessChanging, type AccountRow } from './account.repository.ts';

/** Bounds the memory: past this many accounts, the one kept longest ago is dropped (it is read from SQL again). */
const KEPT_ACCOUNTS = 10_000;

/**
 * Active accounts kept in this process under the version they were read at (account-versions.ts), so that the
 * protocol endpoints (userinfo, token, introspection) skip the account's SQL read. Every use first asks Redis
 * for the account's current version: a change made on any node (disabled, deleted, edited) has replaced it
 * before it committed, so the copy kept here is not used again. While Redis cannot answer, accounts are read
 * from SQL and nothing is kept.
 */
export function activeAccountCache(db: Kysely<DB>, versions: AccountVersions) {
  const kept = new BoundedMap<string, { version: string; account: AccountRow }>(KEPT_ACCOUNTS);

  return async function findActiveAccount(id: string): Promise<AccountRow | undefined> {
    let version: string | undefined;
    try {
      version = await versions.current(id);
    } catch {
      // Redis is away: no account can change meanwhile (the writes fail), but a copy is not worth a doubt.
      kept.clear();
      const account = await findAccountById(db, id);
      return account?.status === 'active' ? account : undefined;
    }
    const entry = kept.get(id);
    if (version !== undefined && entry?.version === version) return entry.account;
    kept.delete(id);
    // Read after the version: a change committed since has replaced it, and this copy is never used.
    const read = version === undefined ? await findAccountById(db, id) : await findAccountUnlessChanging(db, id);
    const account = read === 'changing' ? await findAccountById(db, id) : read;
    if (account?.status !== 'active') return undefined;
    if (version !== undefined && read !== 'changing') kept.set(id, { version, account });
    return account;
  };
}
