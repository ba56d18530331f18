/**
 * `npm run bench -- --scale` (or `npx tsx bench/scale.ts`): how the admin console's and API's queries, the
 * person's page, password sign-in and the SSO round trip grow with the data. On PostgreSQL, one database grows
 * through SCALE_SIZES accounts (roles, linked Google identities and second factors on some, disabled and deleted
 * ones, SCALE_HISTORY sign-ins per account, an audit event per ten), seeded with set-based SQL (generate_series);
 * at each size every query runs SCALE_SAMPLES times, in SQL (the repository function the API calls) and through the
 * admin API (an in-process IdP, one request at a time). Writes bench/results/scale.md.
 * Settings: SCALE_SIZES (10000,100000,1000000), SCALE_HISTORY (10), SCALE_SAMPLES (30), BENCH_POSTGRES_URL.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importJWK, SignJWT } from 'jose';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';

import { findAccountOverview, listAccounts, loginHistoryOf } from '../src/accounts/account-query.repository.ts';
import { listAuditEvents } from '../src/audit/index.ts';
import { loadConfig } from '../src/config.ts';
import type { DB } from '../src/db/index.ts';
import { createIdp } from '../src/idp.ts';
import { generateJwks } from '../src/keys/index.ts';
import { createLogger } from '../src/logger.ts';
import { benchClients, webApp } from './clients.ts';
import { authorize, exchangeCode } from './load/authorize.ts';
import { Browser, createAgent, send } from './load/http.ts';

const list = (name: string, fallback: string) => (process.env[name] ?? fallback).split(',').map((item) => Number(item.trim())).filter((n) => n > 0);
const sizes = list('SCALE_SIZES', '10000,100000,1000000').sort((a, b) => a - b);
const historyPerAccount = Number(process.env.SCALE_HISTORY ?? 10);
const samples = Number(process.env.SCALE_SAMPLES ?? 30);
const postgresUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');

const FIRST_NAMES = ['Ada', 'Alan', 'Grace', 'Edsger', 'Barbara', 'Donald', 'Frances', 'John', 'Radia', 'Ken', 'Margaret', 'Dennis', 'Hedy', 'Tim', 'Karen', 'Linus', 'Shafi', 'Leslie', 'Sophie', 'Niklaus'];
const LAST_NAMES = ['Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson', 'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores', 'Green', 'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell', 'Carter', 'Roberts'];
/** The id of seeded account g: deterministic, so every later statement finds an account's rows without a lookup. */
const idOf = (g: unknown) => sql`md5('account' || ${g})::uuid`;
const person = { email: 'scale-person@example.com', password: `scale-${randomBytes(12).toString('hex')}` };
const admin = { email: 'scale-admin@example.com' };

async function seedAccounts(db: Kysely<DB>, from: number, to: number) {
  const started = performance.now();
  const g = sql.ref('g');
  await sql`insert into accounts (id, email, email_verified, name, given_name, family_name, metadata, status, created_at, updated_at, last_login_at, deleted_at)
    select ${idOf(g)}, 'p' || g || '.' || substr(md5(g::text), 1, 6) || '@example' || (g % 97) || '.com', true,
      (${sql.val(FIRST_NAMES)}::text[])[1 + g % 20] || ' ' || (${sql.val(LAST_NAMES)}::text[])[1 + (g / 20) % 50],
      (${sql.val(FIRST_NAMES)}::text[])[1 + g % 20], (${sql.val(LAST_NAMES)}::text[])[1 + (g / 20) % 50], '{}',
      case when g % 100 = 0 then 'disabled' else 'active' end,
      timestamptz '2020-01-01' + g * interval '10 seconds', timestamptz '2020-01-01' + g * interval '10 seconds',
      timestamptz '2020-01-01' + g * interval '10 seconds' + interval '30 days',
      case when g % 200 = 1 then timestamptz '2020-01-01' + g * interval '10 seconds' + interval '60 days' end
    from generate_series(${from}::int, ${to}::int) g`.execute(db);
  await sql`insert into account_roles (account_id, role_name)
    select ${idOf(g)}, case when g % 10000 = 0 then 'admin' when g % 1000 = 0 then 'moderator' else 'user' end
    from generate_series(${from}::int, ${to}::int) g`.execute(db);
  await sql`insert into federated_identities (provider, subject, account_id, email)
    select 'google', 'google-' || g, ${idOf(g)}, 'p' || g || '@gmail.example' from generate_series(${from}::int, ${to}::int) g where g % 10 = 0`.execute(db);
  await sql`insert into totp_credentials (account_id, secret, confirmed_at)
    select ${idOf(g)}, 'seeded', now() from generate_series(${from}::int, ${to}::int) g where g % 20 = 0`.execute(db);
  // Sign-in history in slices, so no one statement holds millions of rows in memory.
  for (let start = from; start <= to; start += 100_000) {
    const end = Math.min(to, start + 99_999);
    await sql`insert into login_history (account_id, at, ip, user_agent, outcome, method)
      select ${idOf(g)}, timestamptz '2020-01-01' + g * interval '10 seconds' + k * interval '1 day', '203.0.113.' || (k % 250),
        'Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0', case when k % 7 = 0 then 'wrong_password' else 'success' end, 'password'
      from generate_series(${start}::int, ${end}::int) g cross join generate_series(1, ${historyPerAccount}::int) k`.execute(db);
  }
  // An action on every tenth account, by one of the first hundred accounts (acting as admins).
  await sql`insert into audit_events (at, actor_id, action, target_type, target_id, changes)
    select timestamptz '2020-01-01' + g * interval '10 seconds' + interval '1 day', ${idOf(sql`1 + g % 100`)},
      case when g % 3 = 0 then 'users.disable' else 'users.update' end, 'account', (${idOf(g)})::text, '{"name":["a","b"]}'
    from generate_series(${from}::int, ${to}::int) g where g % 10 = 0`.execute(db);
  await sql`vacuum analyze`.execute(db);
  return performance.now() - started;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
async function measure(run: () => Promise<unknown>, count = samples): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 3; i += 1) await run();
  const times: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

interface Row {
  name: string;
  sql?: { p50: number; p99: number } | undefined;
  api?: { p50: number; p99: number } | undefined;
}

const work = mkdtempSync(path.join(os.tmpdir(), 'idp-scale-'));
const databaseName = `idp_scale_${randomBytes(6).toString('hex')}`;
const adminClient = new pg.Client({ connectionString: postgresUrl });
await adminClient.connect();
await adminClient.query(`create database ${databaseName}`);
const databaseUrl = new URL(postgresUrl);
databaseUrl.pathname = `/${databaseName}`;

const server = createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const jwks = await generateJwks();
mkdirSync(path.join(work, 'config'));
const clientsFile = path.join(work, 'config', 'clients.json');
writeFileSync(clientsFile, JSON.stringify(benchClients));
const config = loadConfig({
  PATH: process.env.PATH ?? '',
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('ARGON2_')) as [string, string][]),
  DATABASE_URL: databaseUrl.toString(),
  DATA_DIR: path.join(work, 'data'),
  ISSUER: issuer,
  JWKS: JSON.stringify(jwks),
  COOKIE_KEYS: randomBytes(32).toString('base64url'),
  SECRETS_KEY: `bench:${randomBytes(32).toString('base64')}`,
  CLIENTS_FILE: clientsFile,
  LOG_LEVEL: 'warn',
  RATE_LIMIT_IP_LOGIN: '1000000',
  RATE_LIMIT_IP_TOKEN: '10000000',
  ADMIN_API_RATE_LIMITS: 'guest:10,user:100,moderator:200,admin:500,super_admin:1000000',
});
const idp = await createIdp(config, createLogger('warn'));
server.on('request', idp.app.callback());
const db = idp.database.db;

const results: { size: number; seedMs: number; rows: Row[] }[] = [];
try {
  const adminAccount = await idp.accounts.createAccount({ email: admin.email, password: null, roles: ['super_admin'], emailVerified: true });
  await idp.accounts.createAccount({ email: person.email, password: person.password, name: 'Scale Person', emailVerified: true });
  const key = jwks.keys.find((k) => k.alg === 'RS256') ?? jwks.keys[0]!;
  const token = await new SignJWT({ client_id: 'admin-cli', scope: 'openid admin' })
    .setProtectedHeader({ alg: key.alg!, kid: key.kid!, typ: 'at+jwt' })
    .setIssuer(issuer)
    .setAudience(`${issuer}/admin/api`)
    .setSubject(adminAccount.id)
    .setIssuedAt()
    .setExpirationTime('12h')
    .sign(await importJWK(key, key.alg));
  const agent = createAgent(4);
  const api = async (route: string) => {
    const response = await send(agent, new URL(`/admin/api${route}`, issuer), { method: 'GET', headers: { authorization: `Bearer ${token}` } });
    if (response.status !== 200) throw new Error(`${route}: ${response.status} ${response.body.slice(0, 200)}`);
    return JSON.parse(response.body) as Record<string, unknown>;
  };

  let seeded = 0;
  for (const size of sizes) {
    console.log(`seeding up to ${size.toLocaleString('en')} accounts...`);
    const seedMs = await seedAccounts(db, seeded + 1, size);
    seeded = size;
    const middle = Math.floor(size / 2) + 1;
    const one = (await sql<{ id: string }>`select ${idOf(middle)} as id`.execute(db)).rows[0]!.id;
    const deep = (await sql<{ id: string }>`select id from accounts where deleted_at is null order by created_at desc, id desc offset ${Math.floor(size / 2)} limit 1`.execute(db)).rows[0]!.id;
    const deepCursor = Buffer.from(`after:${deep}`).toString('base64url');
    const emailFragment = `p${middle}.`;
    const surname = LAST_NAMES[7]!;
    const actor = (await sql<{ id: string }>`select ${idOf(51)} as id`.execute(db)).rows[0]!.id;
    const lists: [string, Parameters<typeof listAccounts>[1], string][] = [
      ['users, first page', { perPage: 50 }, '?per_page=50'],
      ['users, deep page (cursor, half way)', { perPage: 50, cursor: { after: deep } }, `?per_page=50&cursor=${deepCursor}`],
      ['users, page 2000 by number (offset)', { perPage: 50, page: 2000 }, '?per_page=50&page=2000'],
      ['search by email fragment', { perPage: 50, search: emailFragment }, `?per_page=50&search=${emailFragment}`],
      ['search by name (2% match)', { perPage: 50, search: surname }, `?per_page=50&search=${surname}`],
      ['filter by role (moderator, 0.1%)', { perPage: 50, role: 'moderator' }, '?per_page=50&role=moderator'],
      ['filter by status (disabled, 1%)', { perPage: 50, status: 'disabled' }, '?per_page=50&status=disabled'],
    ];
    const rows: Row[] = [];
    for (const [name, query, route] of lists) {
      rows.push({ name, sql: await measure(() => listAccounts(db, query)), api: await measure(() => api(`/users${route}`)) });
    }
    rows.push({
      name: "one person's page (account, history, identities)",
      sql: await measure(() => Promise.all([findAccountOverview(db, one), loginHistoryOf(db, one, 50)])),
      api: await measure(() => Promise.all([api(`/users/${one}`), api(`/users/${one}/login-history`), api(`/users/${one}/identities`)])),
    });
    rows.push({
      name: 'audit log by actor',
      sql: await measure(() => listAuditEvents(db, { actorId: actor, perPage: 50 })),
      api: await measure(() => api(`/audit?actor=${actor}&per_page=50`)),
    });
    rows.push({
      name: 'audit log by target',
      sql: await measure(() => listAuditEvents(db, { targetId: one, perPage: 50 })),
      api: await measure(() => api(`/audit?target=${one}&per_page=50`)),
    });
    // Sign-in: a new browser each time, authorize -> sign-in page -> form post -> code (argon2id included).
    rows.push({ name: 'password sign-in (whole flow)', api: await measure(() => authorize(new Browser(agent), issuer, { clientId: webApp.id, scope: 'openid email profile' }, person), Math.min(samples, 20)) });
    const signedIn = new Browser(agent);
    await authorize(signedIn, issuer, { clientId: webApp.id, scope: 'openid email profile' }, person);
    rows.push({
      name: 'SSO round trip (authorize, code, token, userinfo)',
      api: await measure(async () => {
        const code = await authorize(signedIn, issuer, { clientId: webApp.id, scope: 'openid email profile' }, person);
        const tokens = await exchangeCode(agent, issuer, webApp, code);
        await send(agent, new URL('/me', issuer), { method: 'GET', headers: { authorization: `Bearer ${tokens.access_token}` } });
      }),
    });
    results.push({ size, seedMs, rows });
    console.log(rows.map((row) => `${row.name}: sql ${row.sql?.p50.toFixed(1) ?? '-'} ms, api ${row.api?.p50.toFixed(1) ?? '-'} ms`).join('\n'));
  }
  const history = (await sql<{ n: string }>`select count(*) as n from login_history`.execute(db)).rows[0]!.n;
  writeFileSync(path.join(resultsDir, 'scale.md'), report(Number(history)));
  console.log(`wrote ${path.join(resultsDir, 'scale.md')}`);
} finally {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await idp.close();
  await adminClient.query(`drop database if exists ${databaseName} with (force)`);
  await adminClient.end();
  rmSync(work, { recursive: true, force: true });
}

function report(historyRows: number): string {
  const ms = (value: number | undefined) => (value === undefined ? '—' : value < 10 ? value.toFixed(1) : value.toFixed(0));
  const head = `| Query | ${results.map((r) => `${r.size.toLocaleString('en')}: SQL p50 | p99 | API p50 | p99`).join(' | ')} |`;
  const rule = `| --- | ${results.map(() => '---: | ---: | ---: | ---:').join(' | ')} |`;
  const names = results[0]?.rows.map((row) => row.name) ?? [];
  const lines = names.map((name) => {
    const cells = results.map((r) => {
      const row = r.rows.find((candidate) => candidate.name === name)!;
      return `${ms(row.sql?.p50)} | ${ms(row.sql?.p99)} | ${ms(row.api?.p50)} | ${ms(row.api?.p99)}`;
    });
    return `| ${name} | ${cells.join(' | ')} |`;
  });
  return [
    `Measured ${new Date().toISOString()} on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, PostgreSQL.`,
    `Accounts: ${sizes.map((s) => s.toLocaleString('en')).join(', ')} (each with a role; a linked Google identity on every 10th, a second factor on every 20th,`,
    `1% disabled, 0.5% deleted); ${historyPerAccount} sign-ins per account (${historyRows.toLocaleString('en')} history rows at the largest size); an audit event per 10 accounts.`,
    `Each query ${samples} times after 3 warm-ups, one at a time; milliseconds. SQL: the repository function the API calls (its page, count and`,
    'roles); API: the admin API over HTTP with an admin access token, in the same process. Sign-in and SSO through the IdP, node-oidc-provider\'s',
    'models in PostgreSQL. Seeding (set-based SQL, then VACUUM ANALYZE): ' + results.map((r) => `${r.size.toLocaleString('en')}: ${(r.seedMs / 1000).toFixed(0)} s`).join(', ') + '.',
    '',
    head,
    rule,
    ...lines,
    '',
  ].join('\n');
}
