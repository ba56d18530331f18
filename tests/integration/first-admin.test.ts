import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createAccountService, createPasswordHasher, FirstAdminEmailTakenError } from '../../src/accounts/index.ts';
import { loadConfig } from '../../src/config.ts';
import { migrateToLatest, openDatabase, type Database } from '../../src/db/index.ts';

describe('the first super admin of ADMIN_EMAIL', () => {
  let dataDir: string;
  let database: Database;
  const password = 'a long first admin password';

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'idp-first-admin-'));
    database = await openDatabase({ databaseUrl: undefined, dataDir });
    await migrateToLatest(database.db);
  });
  afterAll(async () => {
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const accounts = () =>
    createAccountService({ db: database.db, hasher: createPasswordHasher(loadConfig({}).argon2), passwordPolicy: { minLength: 12 } });

  it('is not made of an account someone registered with that address: start-up is refused with a sentence saying why', async () => {
    await accounts().createAccount({ email: 'taken@example.test', password });
    const refusal = accounts().ensureSuperAdmin({ email: 'taken@example.test', password });
    await expect(refusal).rejects.toBeInstanceOf(FirstAdminEmailTakenError);
    await expect(refusal).rejects.toThrow(/ADMIN_EMAIL taken@example\.test belongs to an existing account that is not a super admin/);
    expect(await accounts().superAdminExists()).toBe(false);
  });

  it('is created once: asking again, or with that account existing as the super admin, changes nothing', async () => {
    expect(await accounts().ensureSuperAdmin({ email: 'root@example.test', password })).toBe(true);
    expect(await accounts().ensureSuperAdmin({ email: 'root@example.test', password })).toBe(false);
    expect(await accounts().ensureSuperAdmin({ email: 'taken@example.test', password })).toBe(false);
    const admins = await database.db
      .selectFrom('account_roles')
      .innerJoin('accounts', 'accounts.id', 'account_roles.account_id')
      .select('accounts.email')
      .where('account_roles.role_name', '=', 'super_admin')
      .execute();
    expect(admins).toEqual([{ email: 'root@example.test' }]);
  });
});
