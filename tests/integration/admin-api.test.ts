import { readFileSync } from 'node:fs';
import path from 'node:path';
import { importJWK, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Browser } from '../support/browser.ts';
import { adminCliClient, backends, RP_REDIRECT, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';
import { linkIn, startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

const backend = backends.at(-1)!;
const ROLES = ['guest', 'user', 'moderator', 'admin', 'super_admin'] as const;
type Role = (typeof ROLES)[number];
const CLI_REDIRECT = 'http://127.0.0.1:53682/callback';

describe(`admin API (${backend})`, () => {
  let idp: TestIdp;
  let smtp: TestSmtpServer;
  let api: string;
  const tokens = {} as Record<Role, string>;
  const actorIds = {} as Record<Role, string>;

  /** An access token for the admin API, got as a script would: admin-cli, PKCE, a loopback redirect on any port. */
  async function adminToken(email: string, password: string) {
    const cli = await relyingParty(idp.issuer, adminCliClient);
    const start = await startAuthorization(cli, { redirect_uri: CLI_REDIRECT, scope: 'openid admin', resource: api });
    const callback = await signIn(new Browser([CLI_REDIRECT]), start.url, { email, password });
    return (await oidc.authorizationCodeGrant(cli, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce })).access_token;
  }

  async function call(token: string | undefined, method: string, route: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(`${api}${route}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  }

  let targetCounter = 0;
  async function newTarget(role: Role = 'user') {
    targetCounter += 1;
    const account = await idp.idp.accounts.createAccount({
      email: `target${targetCounter}@example.com`,
      password: 'target passphrase 1',
      roles: [role],
      emailVerified: true,
    });
    return account.id;
  }

  beforeAll(async () => {
    smtp = await startSmtpServer();
    idp = await startTestIdp({ backend, env: { SMTP_URL: smtp.url, ADMIN_API_RATE_LIMITS: 'guest:40,user:100,moderator:200,admin:500,super_admin:1000' } });
    api = `${idp.issuer}/admin/api`;
    for (const role of ROLES) {
      const account = await idp.idp.accounts.createAccount({ email: `${role}@example.com`, password: `${role} passphrase 1`, roles: [role], emailVerified: true });
      actorIds[role] = account.id;
      tokens[role] = await adminToken(`${role}@example.com`, `${role} passphrase 1`);
    }
  });
  afterAll(async () => {
    await idp?.destroy();
    await smtp?.close();
  });

  const atLeast = (minimum: Role) => (role: Role) => ROLES.indexOf(role) >= ROLES.indexOf(minimum);
  const matrix: [string, (role: Role) => boolean, (token: string) => Promise<{ status: number }>][] = [
    ['list users', atLeast('moderator'), (t) => call(t, 'GET', '/users')],
    ['view a user', atLeast('moderator'), async (t) => call(t, 'GET', `/users/${await newTarget()}`)],
    ['view login history', atLeast('moderator'), async (t) => call(t, 'GET', `/users/${await newTarget()}/login-history`)],
    ['disable a user', atLeast('moderator'), async (t) => call(t, 'POST', `/users/${await newTarget()}/disable`)],
    ['enable a user', atLeast('moderator'), async (t) => call(t, 'POST', `/users/${await newTarget()}/enable`)],
    ['disable a moderator', atLeast('admin'), async (t) => call(t, 'POST', `/users/${await newTarget('moderator')}/disable`)],
    ['create a user', atLeast('admin'), (t) => call(t, 'POST', '/users', { email: `made-${Math.random()}@example.com`, invite: true })],
    ['update a user', atLeast('admin'), async (t) => call(t, 'PATCH', `/users/${await newTarget()}`, { name: 'New Name' })],
    ['delete a user', atLeast('admin'), async (t) => call(t, 'DELETE', `/users/${await newTarget()}`)],
    ['grant moderator', atLeast('admin'), async (t) => call(t, 'PUT', `/users/${await newTarget()}/roles/moderator`)],
    ['grant admin', atLeast('super_admin'), async (t) => call(t, 'PUT', `/users/${await newTarget()}/roles/admin`)],
    ['disable a super admin', atLeast('super_admin'), async (t) => call(t, 'POST', `/users/${await newTarget('super_admin')}/disable`)],
    ['force a password reset', atLeast('admin'), async (t) => call(t, 'POST', `/users/${await newTarget()}/password-reset`)],
    ['reset second factors', atLeast('admin'), async (t) => call(t, 'DELETE', `/users/${await newTarget()}/second-factors`)],
    ['list roles', atLeast('moderator'), (t) => call(t, 'GET', '/roles')],
    ['create a role', atLeast('admin'), (t) => call(t, 'POST', '/roles', { name: `role-${Math.floor(Math.random() * 1e9)}` })],
    ['read the audit log', atLeast('admin'), (t) => call(t, 'GET', '/audit')],
  ];

  for (const role of ROLES) {
    it.each(matrix)(`${role}: %s`, async (_action, allowed, attempt) => {
      const { status } = await attempt(tokens[role]);
      if (allowed(role)) expect(status).toBeLessThan(300);
      else expect(status).toBe(403);
    });
  }

  it('refuses changes to one’s own roles or status, and audits escalation attempts', async () => {
    expect((await call(tokens.admin, 'POST', `/users/${actorIds.admin}/disable`)).status).toBe(403);
    expect((await call(tokens.super_admin, 'DELETE', `/users/${actorIds.super_admin}/roles/super_admin`)).status).toBe(403);
    const target = await newTarget();
    const escalation = await call(tokens.admin, 'PUT', `/users/${target}/roles/super_admin`);
    expect(escalation).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    const denied = await idp.idp.database.db.selectFrom('audit_events').selectAll().where('target_id', '=', target).execute();
    expect(denied).toMatchObject([{ actor_id: actorIds.admin, action: 'users.roles', outcome: 'denied', changes: { role: 'super_admin' } }]);
  });

  it("refuses an admin changing another admin's email, second factors or password, audited; a super admin may", async () => {
    const peer = await newTarget('admin');
    const { email } = (await call(tokens.admin, 'GET', `/users/${peer}`)).body;
    expect(await call(tokens.admin, 'PATCH', `/users/${peer}`, { email: 'attacker@evil.example' })).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    expect((await call(tokens.admin, 'DELETE', `/users/${peer}/second-factors`)).status).toBe(403);
    expect((await call(tokens.admin, 'POST', `/users/${peer}/password-reset`)).status).toBe(403);
    expect((await call(tokens.admin, 'GET', `/users/${peer}`)).body).toMatchObject({ email, email_verified: true });
    const denied = await idp.idp.database.db.selectFrom('audit_events').select(['actor_id', 'action', 'outcome']).where('target_id', '=', peer).orderBy('id').execute();
    expect(denied).toEqual(
      ['users.email', 'users.second-factors.reset', 'users.password-reset'].map((action) => ({ actor_id: actorIds.admin, action, outcome: 'denied' })),
    );

    // Its name is no way in; and a super admin may do all of it.
    expect((await call(tokens.admin, 'PATCH', `/users/${peer}`, { name: 'Peer Admin' })).status).toBe(200);
    expect((await call(tokens.super_admin, 'PATCH', `/users/${peer}`, { email: 'peer-moved@example.com' })).status).toBe(200);
    expect((await call(tokens.super_admin, 'DELETE', `/users/${peer}/second-factors`)).status).toBe(200);
    expect((await call(tokens.super_admin, 'POST', `/users/${peer}/password-reset`)).status).toBe(202);
  });

  it('writes an audit row with the actor, target and changes of each action', async () => {
    const target = await newTarget();
    await call(tokens.admin, 'PATCH', `/users/${target}`, { name: 'Renamed', locale: 'fr' });
    await call(tokens.admin, 'PUT', `/users/${target}/roles/moderator`);
    await call(tokens.admin, 'POST', `/users/${target}/disable`);
    const audit = await call(tokens.admin, 'GET', `/audit?target=${target}`);
    expect(audit.body.items.map((row: { action: string }) => row.action)).toEqual(['users.disable', 'users.roles.grant', 'users.update']);
    expect(audit.body.items.at(-1)).toMatchObject({ actor_id: actorIds.admin, changes: { name: [null, 'Renamed'], locale: [null, 'fr'] }, ip: expect.any(String) });
  });

  it('filters the audit log by actor email, action and date range, refusing a bad date', async () => {
    const target = await newTarget();
    await call(tokens.super_admin, 'PATCH', `/users/${target}`, { name: 'Filtered' });
    await call(tokens.admin, 'POST', `/users/${target}/disable`);
    const byActor = await call(tokens.admin, 'GET', `/audit?target=${target}&actor=SUPER_ADMIN@example.com`);
    expect(byActor.status).toBe(200);
    expect(byActor.body.items.map((row: { action: string }) => row.action)).toEqual(['users.update']);
    const byAction = await call(tokens.admin, 'GET', `/audit?target=${target}&action=users.disable`);
    expect(byAction.body.items.map((row: { actor_id: string }) => row.actor_id)).toEqual([actorIds.admin]);
    const today = new Date().toISOString().slice(0, 10);
    expect((await call(tokens.admin, 'GET', `/audit?target=${target}&from=${today}&to=${today}`)).body.total).toBe(2);
    expect((await call(tokens.admin, 'GET', `/audit?target=${target}&from=2099-01-01`)).body.total).toBe(0);
    expect((await call(tokens.admin, 'GET', `/audit?target=${target}&to=2000-01-01T00:00:00Z`)).body.total).toBe(0);
    const bad = await call(tokens.admin, 'GET', '/audit?from=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'invalid_request', field: 'from', error_description: expect.stringContaining('2026-12-01') });
    expect((await call(tokens.admin, 'GET', '/audit?from=2026-02-30')).status).toBe(400);
    expect((await call(tokens.admin, 'GET', '/audit?from=2026-12-02&to=2026-12-01')).body).toMatchObject({ field: 'to' });
  });

  it('shows who has a second factor, and lets an admin reset them, audited', async () => {
    const target = await newTarget();
    const enrollment = await idp.idp.secondFactors.startTotp(target, 'target');
    await idp.idp.secondFactors.confirmTotp(target, await idp.idp.secondFactors.currentCode(enrollment.secret), null);
    expect((await call(tokens.moderator, 'GET', `/users/${target}`)).body).toMatchObject({ second_factor: true });
    const listed = await call(tokens.moderator, 'GET', '/users?per_page=100');
    expect(listed.body.items.find((item: { id: string }) => item.id === target)).toMatchObject({ second_factor: true });

    expect((await call(tokens.admin, 'DELETE', `/users/${actorIds.admin}/second-factors`)).status).toBe(403);
    const reset = await call(tokens.admin, 'DELETE', `/users/${target}/second-factors`);
    expect(reset).toMatchObject({ status: 200, body: { second_factor: false } });
    expect(await idp.idp.secondFactors.status(target)).toEqual({ totp: false, recoveryCodesLeft: 0, passkeys: 0 });
    const audit = await call(tokens.admin, 'GET', `/audit?target=${target}`);
    expect(audit.body.items[0]).toMatchObject({ action: 'users.second-factors.reset', actor_id: actorIds.admin, changes: { removed: true } });
  });

  it('ends sessions and refresh tokens at once when an account is disabled', async () => {
    const target = await newTarget();
    const email = (await call(tokens.admin, 'GET', `/users/${target}`)).body.email;
    const webApp = await relyingParty(idp.issuer, webAppClient);
    const start = await startAuthorization(webApp, { scope: 'openid offline_access', prompt: 'consent' });
    const live = await exchangeCode(webApp, await signIn(newBrowser(), start.url, { email, password: 'target passphrase 1' }), start);
    expect((await call(tokens.moderator, 'POST', `/users/${target}/disable`)).status).toBe(200);
    await expect(oidc.refreshTokenGrant(webApp, live.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('invites a person, who chooses a password from the mailed link and signs in', async () => {
    const invited = await call(tokens.admin, 'POST', '/users', { email: 'invitee@example.com', name: 'Invi Tee', invite: true });
    expect(invited).toMatchObject({ status: 201, body: { email: 'invitee@example.com', roles: ['user'] } });
    const mail = await smtp.waitFor('invitee@example.com', /You are invited/);
    const browser = newBrowser();
    const form = await browser.open(linkIn(mail, '/account/reset-password?token='));
    const done = (await browser.submit(form, 'form', { password: 'invitee passphrase 1', password_confirmation: 'invitee passphrase 1' })).page!;
    expect(done.$('h1').text()).toBe('Your password was changed');
    const webApp = await relyingParty(idp.issuer, webAppClient);
    const start = await startAuthorization(webApp);
    expect((await exchangeCode(webApp, await signIn(newBrowser(), start.url, { email: 'invitee@example.com', password: 'invitee passphrase 1' }), start)).claims()?.email_verified).toBe(true);
  });

  it('searches, filters and paginates users', async () => {
    for (let i = 0; i < 3; i += 1) await idp.idp.accounts.createAccount({ email: `needle${i}@example.com`, password: null, name: `Needle ${i}` });
    const page1 = await call(tokens.moderator, 'GET', '/users?search=needle&per_page=2');
    expect(page1.body).toMatchObject({ total: 3, totalExact: true, page: 1, perPage: 2, previous: null });
    expect(page1.body.items.map((u: { email: string }) => u.email)).toEqual(['needle2@example.com', 'needle1@example.com']);
    const page2 = await call(tokens.moderator, 'GET', '/users?search=needle&per_page=2&page=2');
    expect(page2.body.items.map((u: { email: string }) => u.email)).toEqual(['needle0@example.com']);
    // The same pages by cursor, there and back.
    const next = await call(tokens.moderator, 'GET', `/users?search=needle&per_page=2&cursor=${page1.body.next}`);
    expect(next.body).toMatchObject({ total: 3, next: null });
    expect(next.body.items.map((u: { email: string }) => u.email)).toEqual(['needle0@example.com']);
    const back = await call(tokens.moderator, 'GET', `/users?search=needle&per_page=2&cursor=${next.body.previous}`);
    expect(back.body.items.map((u: { email: string }) => u.email)).toEqual(['needle2@example.com', 'needle1@example.com']);
    expect(back.body.previous).toBeNull();
    const admins = await call(tokens.moderator, 'GET', '/users?role=super_admin');
    expect(admins.body.items.map((u: { email: string }) => u.email)).toContain('super_admin@example.com');
  });

  it('pages by cursor through more people than it counts exactly, each once, with an estimate of how many', async () => {
    // 1,200 accounts made at one moment: pages must still neither skip nor repeat anyone.
    await sql`insert into accounts (email, name, metadata, created_at, updated_at)
      select 'crowd' || lpad(g::text, 4, '0') || '@example.com', 'Crowd ' || g, '{}', now(), now() from generate_series(1, 1200) g`.execute(idp.idp.database.db);
    await sql`analyze accounts`.execute(idp.idp.database.db);
    const first = await call(tokens.moderator, 'GET', '/users?search=crowd&per_page=200');
    expect(first.body).toMatchObject({ totalExact: false, previous: null });
    expect(first.body.total).toBeGreaterThanOrEqual(1000);
    expect(first.body.total).toBeLessThan(3000);
    const seen: string[] = first.body.items.map((u: { email: string }) => u.email);
    let page = first.body;
    const cursors: string[] = [];
    while (page.next) {
      cursors.push(page.next);
      page = (await call(tokens.moderator, 'GET', `/users?search=crowd&per_page=200&cursor=${page.next}`)).body;
      seen.push(...page.items.map((u: { email: string }) => u.email));
    }
    expect(seen).toHaveLength(1200);
    expect(new Set(seen).size).toBe(1200);
    // Back from the last page: the page before it, as it was read going forward.
    const previous = (await call(tokens.moderator, 'GET', `/users?search=crowd&per_page=200&cursor=${page.previous}`)).body;
    expect(previous.items.map((u: { email: string }) => u.email)).toEqual(seen.slice(800, 1000));
    // Few matches are counted exactly.
    expect((await call(tokens.moderator, 'GET', '/users?search=crowd0042')).body).toMatchObject({ total: 1, totalExact: true });

    expect(await call(tokens.moderator, 'GET', '/users?cursor=bm90LWEtY3Vyc29y')).toMatchObject({ status: 400, body: { error: 'invalid_request', field: 'cursor' } });
    expect(await call(tokens.moderator, 'GET', `/users?page=2&cursor=${cursors[0]}`)).toMatchObject({ status: 400, body: { field: 'page' } });
    // An account's cursor is no audit event's.
    expect((await call(tokens.admin, 'GET', `/audit?cursor=${cursors[0]}`)).status).toBe(400);
  });

  it('pages the audit log by cursor, newest first', async () => {
    const target = await newTarget();
    const rows = Array.from({ length: 5 }, (_v, i) => ({ actor_id: null, actor_kind: 'cli', action: 'users.update', target_type: 'account', target_id: target, changes: JSON.stringify({ name: [`${i}`, `${i + 1}`] }) }));
    await idp.idp.database.db.insertInto('audit_events').values(rows).execute();
    const first = (await call(tokens.admin, 'GET', `/audit?target=${target}&action=users.update&per_page=2`)).body;
    expect(first).toMatchObject({ total: 5, totalExact: true, previous: null });
    const ids: string[] = first.items.map((e: { id: string }) => e.id);
    let page = first;
    while (page.next) {
      page = (await call(tokens.admin, 'GET', `/audit?target=${target}&action=users.update&per_page=2&cursor=${page.next}`)).body;
      ids.push(...page.items.map((e: { id: string }) => e.id));
    }
    expect(ids).toHaveLength(5);
    expect([...ids].sort((a, b) => Number(b) - Number(a))).toEqual(ids);
  });

  it('answers bad input with the right status: unknown id, invalid field, stale update', async () => {
    expect((await call(tokens.admin, 'GET', '/users/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await call(tokens.admin, 'GET', '/users/not-a-uuid')).status).toBe(404);
    const target = await newTarget();
    const invalid = await call(tokens.admin, 'PATCH', `/users/${target}`, { picture: 'javascript:alert(1)' });
    expect(invalid).toMatchObject({ status: 400, body: { field: 'picture' } });
    const unknownField = await call(tokens.admin, 'PATCH', `/users/${target}`, { password_hash: 'x' });
    expect(unknownField.status).toBe(400);

    const read = await call(tokens.admin, 'GET', `/users/${target}`);
    const etag = read.headers.get('etag')!;
    expect((await call(tokens.admin, 'PATCH', `/users/${target}`, { name: 'First' }, { 'if-match': etag })).status).toBe(200);
    const stale = await call(tokens.admin, 'PATCH', `/users/${target}`, { name: 'Second' }, { 'if-match': etag });
    expect(stale).toMatchObject({ status: 412, body: { error: 'precondition_failed' } });
  });

  it('answers 401 with WWW-Authenticate for a missing, foreign or expired token', async () => {
    const missing = await call(undefined, 'GET', '/users');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="admin"');

    const webApp = await relyingParty(idp.issuer, webAppClient);
    const start = await startAuthorization(webApp);
    const userinfoToken = (await exchangeCode(webApp, await signIn(newBrowser(), start.url, { email: 'admin@example.com', password: 'admin passphrase 1' }), start)).access_token;
    const foreign = await call(userinfoToken, 'GET', '/users');
    expect(foreign.status).toBe(401);
    expect(foreign.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);

    const secrets = JSON.parse(readFileSync(path.join(idp.dataDir, 'secrets.json'), 'utf8'));
    const rsa = secrets.jwks.keys.find((key: { alg: string }) => key.alg === 'RS256');
    const expired = await new SignJWT({ scope: 'admin', client_id: 'admin-cli' })
      .setProtectedHeader({ alg: 'RS256', kid: rsa.kid, typ: 'at+jwt' })
      .setIssuer(idp.issuer)
      .setAudience(api)
      .setSubject(actorIds.super_admin)
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(await importJWK(rsa, 'RS256'));
    const late = await call(expired, 'GET', '/users');
    expect(late.status).toBe(401);
    expect(late.headers.get('www-authenticate')).toMatch(/error_description="the token has expired"/);
  });

  it('applies a removed role at once, to a token issued before', async () => {
    const demoted = await idp.idp.accounts.createAccount({ email: 'demoted@example.com', password: 'demoted passphrase 1', roles: ['admin'], emailVerified: true });
    const token = await adminToken('demoted@example.com', 'demoted passphrase 1');
    expect((await call(token, 'GET', '/audit')).status).toBe(200);
    expect((await call(tokens.super_admin, 'DELETE', `/users/${demoted.id}/roles/admin`)).status).toBe(200);
    expect((await call(token, 'GET', '/audit')).status).toBe(403);
  });

  it('registers a client that then signs a person in, rotates its secret, and refuses bad redirect URIs', async () => {
    expect((await call(tokens.moderator, 'GET', '/clients')).status).toBe(403);
    const created = await call(tokens.admin, 'POST', '/clients', {
      client_name: 'Made by API',
      redirect_uris: [RP_REDIRECT],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    });
    expect(created.status).toBe(201);
    const { client_id: clientId, client_secret: secret } = created.body;
    expect(secret).toMatch(/^[\w-]{40,}$/);
    expect((await call(tokens.admin, 'GET', `/clients/${clientId}`)).body).not.toHaveProperty('client_secret');

    const signInWith = async (clientSecret: string) => {
      const config = await relyingParty(idp.issuer, { client_id: clientId, client_secret: clientSecret });
      const start = await startAuthorization(config);
      return exchangeCode(config, await signIn(newBrowser(), start.url, { email: 'user@example.com', password: 'user passphrase 1' }), start);
    };
    expect((await signInWith(secret)).claims()?.aud).toBe(clientId);

    const rotated = await call(tokens.admin, 'POST', `/clients/${clientId}/rotate-secret`);
    expect(rotated.body.client_secret).not.toBe(secret);
    await expect(signInWith(secret)).rejects.toMatchObject({ status: 401 });
    expect((await signInWith(rotated.body.client_secret)).claims()?.aud).toBe(clientId);

    for (const bad of ['https://*.example.com/cb', 'https://app.example.com/cb#x', 'http://app.example.com/cb', 'not a url']) {
      const refused = await call(tokens.admin, 'PATCH', `/clients/${clientId}`, { redirect_uris: [bad] });
      expect(refused, bad).toMatchObject({ status: 400, body: { field: 'redirect_uris' } });
    }
    const audit = await call(tokens.admin, 'GET', `/audit?target=${clientId}`);
    expect(audit.body.items.map((row: { action: string }) => row.action)).toEqual(['clients.rotate-secret', 'clients.create']);

    expect((await call(tokens.admin, 'DELETE', `/clients/${clientId}`)).status).toBe(204);
    expect((await call(tokens.admin, 'GET', `/clients/${clientId}`)).status).toBe(404);
  });

  it('gives a script an admin token through the device flow, as the README shows', async () => {
    const cli = await relyingParty(idp.issuer, adminCliClient);
    const device = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid admin', resource: api });
    const browser = newBrowser();
    const carried = await browser.open(device.verification_uri_complete!);
    const confirm = (await browser.submit(carried, 'form')).page!;
    const login = (await browser.submit(confirm, 'form:has(input[name=confirm])')).page!;
    // admin-cli is first-party, but the admin API is always asked for.
    const consent = (await browser.submit(login, 'form[action$="/login"]', { email: 'admin@example.com', password: 'admin passphrase 1' })).page!;
    expect(consent.$('.scopes').text()).toContain('Admin API');
    const done = (await browser.submit(consent, 'form[action$="/confirm"]')).page!;
    expect(done.$('h1').text()).toBe('Your device is connected');
    const granted = await oidc.genericGrantRequest(cli, 'urn:ietf:params:oauth:grant-type:device_code', { device_code: device.device_code });
    expect((await call(granted.access_token, 'GET', '/users?per_page=1')).status).toBe(200);
  });

  it('rate-limits each caller by role with 429 and Retry-After', async () => {
    let last = { status: 0, headers: new Headers() };
    for (let i = 0; i < 60 && last.status !== 429; i += 1) last = await call(tokens.guest, 'GET', '/roles');
    expect(last.status).toBe(429);
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
