import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { migrateToLatest, openDatabase, type Database } from '../../src/db/index.ts';
import { endEverythingOf, indexedByAccount } from '../../src/oidc/adapters/account-index.ts';
import { createSqlAdapter } from '../../src/oidc/adapters/sql.ts';

describe('account index', () => {
  let dataDir: string;
  let database: Database;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'idp-account-index-'));
    database = await openDatabase({ databaseUrl: undefined, dataDir });
    await migrateToLatest(database.db);
  });
  afterAll(async () => {
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const indexRow = (model: string, id: string) =>
    database.db.selectFrom('oidc_account_index').selectAll().where('model', '=', model).where('id', '=', id).executeTakeFirst();

  it('records a session for its account, with an expiry no sooner than the session’s', async () => {
    const Adapter = indexedByAccount(createSqlAdapter(database.db), database.db);
    const accountId = randomUUID();
    const before = Date.now();
    await new Adapter('Session').upsert('s1', { accountId, uid: 'u1' }, 3600);
    const row = await indexRow('Session', 's1');
    expect(row?.account_id).toBe(accountId);
    expect(new Date(row!.expires_at!).getTime()).toBeGreaterThanOrEqual(before + 3600 * 1000);
  });

  it('does not write again while the row names the account and lasts longer, and does when either changes', async () => {
    const Adapter = indexedByAccount(createSqlAdapter(database.db), database.db);
    const sessions = new Adapter('Session');
    const [alice, bob] = [randomUUID(), randomUUID()];
    await sessions.upsert('s2', { accountId: alice, uid: 'u2' }, 3600);
    const first = await indexRow('Session', 's2');

    // A save moments later (every authorization saves the session) leaves the row as it is.
    await sessions.upsert('s2', { accountId: alice, uid: 'u2' }, 3600);
    expect((await indexRow('Session', 's2'))?.expires_at).toEqual(first?.expires_at);

    await sessions.upsert('s2', { accountId: bob, uid: 'u2' }, 3600);
    expect((await indexRow('Session', 's2'))?.account_id).toBe(bob);

    // Far beyond the row's expiry (a much longer TTL): written again, so the purge cannot drop a live session's row.
    await sessions.upsert('s2', { accountId: bob, uid: 'u2' }, 10 * 24 * 3600);
    expect(new Date((await indexRow('Session', 's2'))!.expires_at!).getTime()).toBeGreaterThan(Date.now() + 9 * 24 * 3600 * 1000);
  });

  it('writes the row again after the item was destroyed, so ending everything still finds it', async () => {
    const Adapter = indexedByAccount(createSqlAdapter(database.db), database.db);
    const accountId = randomUUID();
    const sessions = new Adapter('Session');
    await sessions.upsert('s3', { accountId, uid: 'u3' }, 3600);
    await sessions.destroy('s3');
    expect(await indexRow('Session', 's3')).toBeUndefined();
    await sessions.upsert('s3', { accountId, uid: 'u3' }, 3600);
    expect((await indexRow('Session', 's3'))?.account_id).toBe(accountId);

    expect(await endEverythingOf(database.db, Adapter, accountId)).toBe(1);
    expect(await sessions.find('s3')).toBeUndefined();
    await sessions.upsert('s3', { accountId, uid: 'u3' }, 3600);
    expect((await indexRow('Session', 's3'))?.account_id).toBe(accountId);
  });
});
