import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';

import { migrateToLatest, openDatabase } from '../../src/db/index.ts';
import { runAdmin } from '../support/cli.ts';
import { createPostgresDatabase } from '../support/idp.ts';
import { freePort } from '../support/ports.ts';
import { startServerProcess, type ServerProcess } from '../support/server-process.ts';

const postgres = process.env.TEST_DATABASE_URL;
const admin = { ADMIN_EMAIL: 'first-admin@example.test', ADMIN_PASSWORD: 'a long first admin password' };
const dirs: string[] = [];
const databases: { drop(): Promise<void> }[] = [];
const servers: ServerProcess[] = [];

afterAll(async () => {
  for (const server of servers) await server.stop();
  for (const database of databases) await database.drop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function freshDatabase(): Promise<string> {
  const database = await createPostgresDatabase();
  databases.push(database);
  return database.url;
}

function dataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'idp-concurrent-'));
  dirs.push(dir);
  return dir;
}

/** One node as an orchestrator starts it; resolves when /readyz answers 200, rejects if it exits first. */
async function startNode(databaseUrl: string): Promise<void> {
  const env = { DATABASE_URL: databaseUrl, DATA_DIR: dataDir(), LOG_LEVEL: 'warn', ...admin };
  servers.push(await startServerProcess(env, await freePort()));
}

async function superAdmins(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ email: string }>(
      "select a.email from accounts a join account_roles r on r.account_id = a.id where r.role_name = 'super_admin'",
    );
    return rows.map((row) => row.email);
  } finally {
    await client.end();
  }
}

/** A migrated database whose roles table is held until `count` clients wait for it, then let go: they go on together. */
async function migratedDatabaseHoldingRoles(count: number, start: (databaseUrl: string) => Promise<unknown>) {
  const databaseUrl = await freshDatabase();
  const database = await openDatabase({ databaseUrl, dataDir: dataDir() });
  await migrateToLatest(database.db).finally(() => database.close());
  const holder = new pg.Client({ connectionString: databaseUrl });
  await holder.connect();
  await holder.query('begin; lock table account_roles in access exclusive mode');
  const started = start(databaseUrl);
  const waiting = async () =>
    Number((await holder.query("select count(*) from pg_locks where relation = 'account_roles'::regclass and not granted")).rows[0].count);
  const deadline = Date.now() + 80_000;
  while ((await waiting()) < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  await holder.query('commit');
  await holder.end();
  return { databaseUrl, started: await started };
}

describe.skipIf(!postgres)('several nodes starting at once', () => {
  it('with ADMIN_EMAIL, both become ready when both find no admin and create it at the same moment; one admin results', async () => {
    // Both stop at "does a super admin exist?" and go on together: both see none.
    const { databaseUrl } = await migratedDatabaseHoldingRoles(2, (url) => Promise.all([startNode(url), startNode(url)]));
    expect(await superAdmins(databaseUrl)).toEqual([admin.ADMIN_EMAIL]);
  }, 120_000);

  it('`admin -- migrate` and `admin -- bootstrap` as one-off jobs: quiet, and any number at once on a fresh database', async () => {
    const databaseUrl = await freshDatabase();
    const env = { DATABASE_URL: databaseUrl, DATA_DIR: dataDir(), ...admin };
    const [migrate, first, second, unset] = await Promise.all([
      runAdmin(['migrate'], { env }),
      runAdmin(['bootstrap'], { env }),
      runAdmin(['bootstrap'], { env }),
      runAdmin(['bootstrap'], { env: { DATABASE_URL: databaseUrl, DATA_DIR: env.DATA_DIR } }),
    ]);
    expect(migrate).toMatchObject({ code: 0, stderr: '' });
    for (const result of [first, second]) expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await superAdmins(databaseUrl)).toEqual([admin.ADMIN_EMAIL]);
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain('bootstrap needs ADMIN_EMAIL and ADMIN_PASSWORD');
  }, 120_000);
});
