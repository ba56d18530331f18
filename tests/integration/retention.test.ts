import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.ts';
import { type DB, migrateDatabase, openDatabase, type Database } from '../../src/db/index.ts';
import { createLogger } from '../../src/logger.ts';
import { createRetentionJob, type PurgeResult, type RetentionPolicy } from '../../src/retention/index.ts';
import { runAdmin } from '../support/cli.ts';
import { backends, createPostgresDatabase, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';

const alice = { email: 'alice@example.com', password: 'correct horse battery staple' };
const quiet = createLogger('silent');
const defaults: RetentionPolicy = { loginHistoryDays: 180, auditDays: 365 };

/** `count` sign-in history rows `daysAgo` days old, in one statement. */
async function seedHistory(db: Kysely<DB>, count: number, daysAgo: number, accountId: string | null = null) {
  await sql`
    insert into login_history (account_id, at, outcome, ip)
    select ${accountId}, now() - make_interval(days => ${daysAgo}) + make_interval(secs => n), 'success', '192.0.2.1'
    from generate_series(1, ${count}) as n`.execute(db);
}

async function seedAudit(db: Kysely<DB>, count: number, daysAgo: number) {
  await sql`
    insert into audit_events (at, actor_kind, action)
    select now() - make_interval(days => ${daysAgo}) + make_interval(secs => n), 'cli', 'users.create'
    from generate_series(1, ${count}) as n`.execute(db);
}

const countOf = async (db: Kysely<DB>, table: keyof DB) =>
  Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);

const ago = (ms: number) => new Date(Date.now() - ms);
const later = (ms: number) => new Date(Date.now() + ms);
const DAY = 24 * 60 * 60 * 1000;

describe('retention settings', () => {
  it('keeps sign-in history 180 days and audit events 365 by default; 0 or forever keeps them for ever', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).retention).toEqual({ loginHistoryDays: 180, auditDays: 365 });
    expect(loadConfig({ NODE_ENV: 'test', LOGIN_HISTORY_DAYS: 'forever', AUDIT_DAYS: '0' }).retention).toEqual({ loginHistoryDays: undefined, auditDays: undefined });
    expect(loadConfig({ NODE_ENV: 'test', LOGIN_HISTORY_DAYS: '30' }).retention.loginHistoryDays).toBe(30);
    expect(() => loadConfig({ NODE_ENV: 'test', AUDIT_DAYS: 'a year' })).toThrow(/AUDIT_DAYS/);
  });
});

describe.each(backends)('retention job (%s)', (backend) => {
  let idp: TestIdp;
  let db: Kysely<DB>;
  let aliceId: string;

  beforeAll(async () => {
    idp = await startTestIdp({ backend });
    db = idp.idp.database.db;
    aliceId = (await idp.idp.accounts.createAccount({ ...alice, roles: ['user'], emailVerified: true })).id;
  });
  afterAll(() => idp?.destroy());

  it('removes history older than its limit in batches and dead rows of every expiring table, and keeps the rest', async () => {
    await seedHistory(db, 2500, 200, aliceId);
    await seedHistory(db, 3, 10, aliceId);
    await seedAudit(db, 1200, 400);
    await seedAudit(db, 2, 300);
    const model = (id: string, expires: Date | null) => ({ model: 'AccessToken', id, payload: '{}', expires_at: expires });
    await db.insertInto('oidc_models').values([model('expired-1', ago(1000)), model('expired-2', ago(DAY)), model('live', later(60_000)), model('no-expiry', null)]).execute();
    const indexed = (id: string, expires: Date) => ({ account_id: aliceId, model: 'Session', id, expires_at: expires });
    await db.insertInto('oidc_account_index').values([indexed('gone', ago(1000)), indexed('here', later(DAY))]).execute();
    const token = (hash: string, expires: Date, used: Date | null) => ({ token_hash: hash, account_id: aliceId, purpose: 'verify_email' as const, email: alice.email, expires_at: expires, used_at: used });
    await db.insertInto('email_tokens').values([token('expired', ago(1000), null), token('used', later(DAY), ago(1000)), token('live', later(DAY), null)]).execute();
    const challenge = (key: string, expires: Date) => ({ key_hash: key, challenge: 'c', purpose: 'register' as const, account_id: aliceId, interaction_uid: null, expires_at: expires });
    await db.insertInto('webauthn_challenges').values([challenge('old', ago(1000)), challenge('new', later(60_000))]).execute();
    const console = (hash: string, expires: Date) => ({ id_hash: hash, account_id: aliceId, expires_at: expires });
    await db.insertInto('console_sessions').values([console('ended', ago(1000)), console('open', later(60_000))]).execute();
    await db.insertInto('reauthentications').values([
      { session_uid: 'yesterday', account_id: aliceId, authenticated_at: ago(2 * DAY) },
      { session_uid: 'now', account_id: aliceId, authenticated_at: new Date() },
    ]).execute();
    const subscription = await db.insertInto('webhook_subscriptions').values({ url: 'https://receiver.example/hook', secret_sealed: 'sealed' }).returning('id').executeTakeFirstOrThrow();
    const event = (id: string, occurred: Date, status: 'pending' | 'delivered') => ({ id, occurred, status });
    for (const { id, occurred, status } of [event('old-sent', ago(40 * DAY), 'delivered'), event('old-pending', ago(40 * DAY), 'pending'), event('recent', ago(DAY), 'delivered')]) {
      await db.insertInto('webhook_events').values({ id, type: 'account.updated', occurred_at: occurred, payload: JSON.stringify({ id }) }).execute();
      await db.insertInto('webhook_deliveries').values({ event_id: id, subscription_id: subscription.id, status, next_attempt_at: later(DAY) }).execute();
    }

    const result = await idp.idp.retention.run();

    expect(result).toEqual({
      ran: true,
      stopped: false,
      removed: {
        login_history: 2500,
        audit_events: 1200,
        oidc_models: 2,
        oidc_account_index: 1,
        email_tokens: 2,
        webauthn_challenges: 1,
        console_sessions: 1,
        reauthentications: 1,
        webhook_events: 1,
      },
    });
    expect(await countOf(db, 'login_history')).toBe(3);
    expect(await countOf(db, 'audit_events')).toBe(2);
    expect((await db.selectFrom('oidc_models').select('id').where('model', '=', 'AccessToken').orderBy('id').execute()).map((r) => r.id)).toEqual(['live', 'no-expiry']);
    expect((await db.selectFrom('oidc_account_index').select('id').where('model', '=', 'Session').where('id', 'in', ['gone', 'here']).execute()).map((r) => r.id)).toEqual(['here']);
    expect((await db.selectFrom('email_tokens').select('token_hash').execute()).map((r) => r.token_hash)).toEqual(['live']);
    expect((await db.selectFrom('webauthn_challenges').select('key_hash').execute()).map((r) => r.key_hash)).toEqual(['new']);
    expect((await db.selectFrom('console_sessions').select('id_hash').execute()).map((r) => r.id_hash)).toEqual(['open']);
    expect((await db.selectFrom('reauthentications').select('session_uid').execute()).map((r) => r.session_uid)).toEqual(['now']);
    // A webhook event goes 30 days on, with its deliveries, unless one is still pending.
    expect((await db.selectFrom('webhook_events').select('id').orderBy('id').execute()).map((r) => r.id)).toEqual(['old-pending', 'recent']);
    expect((await db.selectFrom('webhook_deliveries').select('event_id').orderBy('event_id').execute()).map((r) => r.event_id)).toEqual(['old-pending', 'recent']);

    // One log line per run, with the counts and nothing about anybody.
    const line = idp.logs.lines.find((entry) => entry.msg?.startsWith('retention:'));
    expect(line).toMatchObject({ removed: { login_history: 2500, audit_events: 1200 }, stopped: false });
    expect(JSON.stringify(line)).not.toContain(aliceId);
    const metrics = await (await fetch(`${idp.issuer}/metrics`)).text();
    expect(metrics).toContain('retention_rows_deleted_total{table="login_history"} 2500');
    expect(metrics).toContain('retention_rows_deleted_total{table="audit_events"} 1200');
    expect(metrics).toContain('retention_runs_total{outcome="done"} 1');
  });

  it('keeps history for ever when its limit is unset', async () => {
    await seedHistory(db, 5, 4000);
    await seedAudit(db, 5, 4000);
    const job = createRetentionJob({ database: idp.idp.database, policy: { loginHistoryDays: undefined, auditDays: 3650 }, log: quiet });
    const result = await job.run();
    expect(result).toMatchObject({ ran: true, removed: { login_history: 0, audit_events: 5 } });
    expect(await countOf(db, 'login_history')).toBe(3 + 5);
    await db.deleteFrom('login_history').where('at', '<', ago(1000 * DAY)).execute();
  });

  it('keeps a signed-in person signed in: only expired sessions and tokens go', async () => {
    const config = await relyingParty(idp.issuer, webAppClient);
    const browser = newBrowser();
    await signIn(browser, (await startAuthorization(config, { prompt: 'consent' })).url, alice);

    await idp.idp.retention.run();

    const silent = await startAuthorization(config, { prompt: 'none' });
    expect((await browser.navigate(silent.url.href)).leftTo?.searchParams.get('code')).toBeTruthy();
  });

  it('lets a person sign in while a large purge runs', { timeout: 120_000 }, async () => {
    await seedHistory(db, 100_000, 365);
    const job = createRetentionJob({ database: idp.idp.database, policy: defaults, log: quiet, batchSize: 500 });
    let purging = true;
    const purge = job.run().finally(() => {
      purging = false;
    });

    const config = await relyingParty(idp.issuer, webAppClient);
    const callback = await signIn(newBrowser(), (await startAuthorization(config)).url, alice);
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect(purging, 'the sign-in finished while the purge was still running').toBe(true);

    expect(await purge).toMatchObject({ ran: true, removed: { login_history: 100_000 } });
  });

  it('ends a run after its current batch when the node stops; the next run removes the rest', async () => {
    const kept = await countOf(db, 'login_history');
    await seedHistory(db, 5000, 365);
    const job = createRetentionJob({ database: idp.idp.database, policy: defaults, log: quiet, batchSize: 100, pauseMs: 20 });
    const run = job.run();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await job.stop();
    const result = await run;
    expect(result).toMatchObject({ ran: true, stopped: true });
    const removed = (result as Extract<PurgeResult, { ran: true }>).removed.login_history;
    expect(removed).toBeGreaterThan(0);
    expect(removed).toBeLessThan(5000);
    expect(await countOf(db, 'login_history')).toBe(kept + 5000 - removed);
    // The rest goes at the next run, of another job (a restarted node).
    const next = await createRetentionJob({ database: idp.idp.database, policy: defaults, log: quiet }).run();
    expect(next).toMatchObject({ removed: { login_history: 5000 - removed } });
  });

  it('answers a second call during a run with that same run', async () => {
    await seedHistory(db, 3000, 365);
    const job = createRetentionJob({ database: idp.idp.database, policy: defaults, log: quiet, batchSize: 500 });
    const [first, second] = await Promise.all([job.run(), job.run()]);
    expect(second).toBe(first);
    expect(first).toMatchObject({ removed: { login_history: 3000 } });
  });
});

describe.skipIf(!process.env.TEST_DATABASE_URL)('retention across nodes (postgres)', () => {
  let drop: () => Promise<void>;
  let nodes: Database[];

  beforeAll(async () => {
    const created = await createPostgresDatabase();
    drop = created.drop;
    nodes = [];
    for (let i = 0; i < 2; i += 1) nodes.push(await openDatabase({ databaseUrl: created.url, dataDir: '/nonexistent' }));
    await migrateDatabase(nodes[0]!);
  });
  afterAll(async () => {
    for (const node of nodes ?? []) await node.close();
    await drop?.();
  });

  it('runs on one node at a time: the other skips while the first holds the lock, and runs once it is free', async () => {
    await seedHistory(nodes[0]!.db, 5000, 365);
    const jobs = nodes.map((database) => createRetentionJob({ database, policy: defaults, log: quiet, batchSize: 100, pauseMs: 5 }));
    const results = await Promise.all(jobs.map((job) => job.run()));
    expect(results.filter((result) => result.ran)).toEqual([expect.objectContaining({ removed: expect.objectContaining({ login_history: 5000 }) })]);
    expect(results.filter((result) => !result.ran)).toEqual([{ ran: false }]);
    // The lock went with the run: either node runs now.
    expect(await jobs[1]!.run()).toMatchObject({ ran: true });
    expect(await jobs[0]!.run()).toMatchObject({ ran: true });
  });

  it('leaves the pooled connection with the server’s own statement timeout', async () => {
    await createRetentionJob({ database: nodes[0]!, policy: defaults, log: quiet }).run();
    const timeouts = await Promise.all(
      Array.from({ length: 10 }, () => nodes[0]!.db.connection().execute(async (c) => (await sql<{ statement_timeout: string }>`show statement_timeout`.execute(c)).rows[0]!.statement_timeout)),
    );
    expect(new Set(timeouts)).toEqual(new Set(['0']));
  });
});

describe.each(backends.filter((backend) => backend !== 'postgres+redis'))('npm run admin -- purge (%s)', (backend) => {
  let dataDir: string;
  let databaseUrl: string | undefined;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'idp-purge-'));
    if (backend === 'postgres') ({ url: databaseUrl, drop } = await createPostgresDatabase());
  });
  afterAll(async () => {
    await drop?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const withDatabase = async (work: (db: Kysely<DB>) => Promise<void>) => {
    const database = await openDatabase({ databaseUrl, dataDir });
    try {
      await migrateDatabase(database);
      await work(database.db);
    } finally {
      await database.close();
    }
  };

  it('removes what is older than the settings keep, now, and prints how many rows went from each table', { timeout: 60_000 }, async () => {
    await withDatabase(async (db) => {
      await seedHistory(db, 1500, 40);
      await seedHistory(db, 2, 1);
      await seedAudit(db, 3, 400);
    });

    const result = await runAdmin(['purge'], { env: { DATA_DIR: dataDir, DATABASE_URL: databaseUrl, NODE_ENV: 'test', LOGIN_HISTORY_DAYS: '30' } });

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('Removed (sign-in history kept 30 days, audit events kept 365 days):');
    expect(result.stdout).toMatch(/^ +1500 {2}sign-in history entries {2}\(login_history\)$/m);
    expect(result.stdout).toMatch(/^ +3 {2}audit events {2}\(audit_events\)$/m);
    expect(result.stdout).toMatch(/^ +0 {2}used or expired email links {2}\(email_tokens\)$/m);
    await withDatabase(async (db) => {
      expect(await countOf(db, 'login_history')).toBe(2);
      expect(await countOf(db, 'audit_events')).toBe(0);
    });
  });

  it('refuses options it does not know', async () => {
    const result = await runAdmin(['purge', '--now'], { env: { DATA_DIR: dataDir, DATABASE_URL: databaseUrl, NODE_ENV: 'test' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('purge takes no options');
  });
});
