import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runAdmin } from '../support/cli.ts';
import { startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';

describe('npm run admin', () => {
  let dataDir: string;
  const env = () => ({ DATA_DIR: dataDir, NODE_ENV: 'test' });

  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'idp-cli-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('migrates, then says the database is up to date', async () => {
    const first = await runAdmin(['migrate'], { env: env() });
    expect(first).toMatchObject({ code: 0 });
    expect(first.stdout).toContain('Applied migrations: 001_accounts, 002_oidc_models, 003_account_lifecycle, 004_federated_identities, 005_administration, 006_clients, 007_second_factors, 008_self_service, 009_passkeys');
    const second = await runAdmin(['migrate'], { env: env() });
    expect(second.stdout).toContain('The database is up to date.');
  });

  it('creates a user who can then sign in with the roles given', async () => {
    const created = await runAdmin(
      ['create-user', '--email', 'dana@example.com', '--password-stdin', '--name', 'Dana', '--role', 'admin', '--role', 'user', '--verified'],
      { env: env(), stdin: 'dana password 42\n' },
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/Created dana@example.com \(id [0-9a-f-]{36}, roles: admin, user\)/);
    expect(created.stdout).not.toContain('dana password 42');

    // The server starts on the same data folder once the CLI has exited, and Dana signs in.
    const idp: TestIdp = await startTestIdp({ backend: "pglite", env: { DATA_DIR: dataDir } });
    try {
      const config = await relyingParty(idp.issuer, webAppClient);
      const start = await startAuthorization(config, { scope: 'openid email roles' });
      const tokens = await exchangeCode(config, await signIn(newBrowser(), start.url, { email: 'DANA@example.com', password: 'dana password 42' }), start);
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
      expect(userinfo).toMatchObject({ email: 'dana@example.com', email_verified: true, roles: ['admin', 'user'] });
      // The audit log says the command line did it.
      const audited = await idp.idp.database.db.selectFrom('audit_events').select(['actor_id', 'actor_kind', 'action', 'target_id', 'changes']).where('action', '=', 'users.create').execute();
      expect(audited).toEqual([{ actor_id: null, actor_kind: 'cli', action: 'users.create', target_id: userinfo.sub, changes: { email: 'dana@example.com', roles: ['admin', 'user'] } }]);
    } finally {
      await idp.stop();
    }
  });

  it.each([
    [['create-user', '--email', 'dana@example.com', '--password-stdin'], 'another password 1', /already exists/],
    [['create-user', '--email', 'eve@example.com', '--password-stdin', '--role', 'wizard'], 'another password 1', /Unknown role: wizard/],
    [['create-user', '--email', 'eve@example.com', '--password-stdin'], 'short', /at least 8 characters/],
    [['create-user', '--email', 'not-an-email', '--password-stdin'], 'another password 1', /valid email/],
    [['create-user', '--email', 'eve@example.com'], '', /--password-stdin/],
    [['create-user', '--email', 'eve@example.com', '--password-stdin', '--colour', 'red'], 'x', /Unknown option '--colour'/],
    [['frobnicate'], '', /Unknown command "frobnicate"/],
  ])('refuses %j with a clear message and a non-zero exit', async (args, stdin, message) => {
    const result = await runAdmin(args, { env: env(), stdin });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refuses at once while a server holds the embedded data folder, naming its process', async () => {
    const idp = await startTestIdp({ backend: 'pglite', env: { DATA_DIR: dataDir } });
    try {
      const result = await runAdmin(['migrate'], { env: env() });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`in use by process ${process.pid}`);
    } finally {
      await idp.stop();
    }
    expect((await runAdmin(['migrate'], { env: env() })).code).toBe(0);
  });

  it.skipIf(!process.env.TEST_DATABASE_URL)('says in one line how to create a PostgreSQL database that does not exist', async () => {
    const missing = new URL(process.env.TEST_DATABASE_URL!);
    missing.pathname = '/idp_cli_no_such_database';
    const result = await runAdmin(['migrate'], { env: { DATABASE_URL: missing.href, NODE_ENV: 'test' } });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Error: The database "idp_cli_no_such_database" .*does not exist\. Create it \(`createdb .*idp_cli_no_such_database`\)/)]);
  });

  // Two CLI processes, then a server and a sign-in: more than the default 30 s on a busy machine.
  it('registers a client that a relying party can then use, and refuses a bad redirect URI', { timeout: 90_000 }, async () => {
    const refused = await runAdmin(['create-client', '--name', 'Bad', '--redirect-uri', 'http://app.example.com/cb'], { env: env() });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('redirect_uris: http://app.example.com/cb: use https, or http on 127.0.0.1 or [::1]');

    const made = await runAdmin(['create-client', '--name', 'CLI App', '--redirect-uri', 'http://127.0.0.1:9/rp/callback'], { env: env() });
    expect(made.code).toBe(0);
    // Only the result: none of node-oidc-provider's quick-start warnings.
    expect(made.stderr).toBe('');
    expect(made.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^client_id: /), expect.stringMatching(/^client_secret: .*\(shown once\)$/)]);
    const clientId = /client_id: (\S+)/.exec(made.stdout)![1]!;
    const secret = /client_secret: (\S+)/.exec(made.stdout)![1]!;
    const idp: TestIdp = await startTestIdp({ backend: 'pglite', env: { DATA_DIR: dataDir } });
    try {
      const config = await relyingParty(idp.issuer, { client_id: clientId, client_secret: secret });
      const start = await startAuthorization(config, { scope: 'openid email' });
      const tokens = await exchangeCode(config, await signIn(newBrowser(), start.url, { email: 'dana@example.com', password: 'dana password 42' }), start);
      expect(tokens.claims()?.aud).toBe(clientId);
      const audited = await idp.idp.database.db.selectFrom('audit_events').select(['actor_kind', 'action', 'changes']).where('target_id', '=', clientId).execute();
      expect(audited).toMatchObject([{ actor_kind: 'cli', action: 'clients.create', changes: { metadata: { client_name: 'CLI App' } } }]);
      expect(audited[0]!.changes!.metadata).not.toHaveProperty('client_secret');
    } finally {
      await idp.stop();
    }
  });

  it('lists the development keys the server generated in DATA_DIR when JWKS_FILE and JWKS are unset', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'idp-cli-keys-'));
    try {
      const before = await runAdmin(['keys', 'list'], { env: { DATA_DIR: empty, NODE_ENV: 'test' } });
      expect(before).toMatchObject({ code: 0, stderr: '' });
      expect(before.stdout).toContain(`No signing keys yet: JWKS_FILE and JWKS are unset, so the server generates development keys in ${path.join(empty, 'secrets.json')} when it first starts.`);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }

    // The server has started on dataDir in the tests above, and generated its keys there.
    const kept = JSON.parse(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')).jwks.keys as { kid: string; alg: string }[];
    const listed = await runAdmin(['keys', 'list'], { env: env() });
    expect(listed).toMatchObject({ code: 0, stderr: '' });
    expect(listed.stdout).toContain(`Development keys in ${path.join(dataDir, 'secrets.json')} (JWKS_FILE and JWKS are unset):`);
    for (const key of kept) {
      expect(listed.stdout).toMatch(new RegExp(`^${key.kid} \\(${key.alg}\\)  signing; use sig; development key, generated \\d{4}-\\d\\d-\\d\\dT`, 'm'));
    }

    const rotate = await runAdmin(['keys', 'rotate'], { env: env() });
    expect(rotate.code).toBe(2);
    expect(rotate.stderr).toContain('keys rotate works on JWKS_FILE or JWKS');
  });

  it('prints a private JWK set usable as JWKS_FILE', async () => {
    const result = await runAdmin(['generate-jwks'], { env: {} });
    expect(result.code).toBe(0);
    const jwks = JSON.parse(result.stdout);
    expect(jwks.keys.map((key: { alg: string }) => key.alg)).toEqual(['RS256', 'ES256']);
    expect(jwks.keys.every((key: { d?: string; kid?: string }) => key.d && key.kid)).toBe(true);
  });

  it('writes the private JWK set with --out readable by its owner only, and replaces a file only with --force', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'idp-jwks-'));
    try {
      const file = path.join(dir, 'jwks.json');
      const written = await runAdmin(['generate-jwks', '--out', file], { env: {} });
      expect(written.code).toBe(0);
      expect(written.stdout).toContain(`Wrote a private JWK set to ${file} (mode 0600)`);
      expect(written.stdout).not.toContain('"d"');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const first = readFileSync(file, 'utf8');
      expect(JSON.parse(first).keys.map((key: { alg: string }) => key.alg)).toEqual(['RS256', 'ES256']);

      const again = await runAdmin(['generate-jwks', '--out', file], { env: {} });
      expect(again.code).toBe(2);
      expect(again.stderr).toContain(`${file} exists`);
      expect(readFileSync(file, 'utf8')).toBe(first);

      const loose = path.join(dir, 'loose.json');
      writeFileSync(loose, '{}', { mode: 0o644 });
      const forced = await runAdmin(['generate-jwks', '--out', loose, '--force'], { env: {} });
      expect(forced.code).toBe(0);
      expect(statSync(loose).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(loose, 'utf8')).keys).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
