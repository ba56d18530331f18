import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import argon2 from 'argon2';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Browser } from '../support/browser.ts';
import { type FakeGoogle, startFakeGoogle } from '../support/fake-google.ts';
import { adminCliClient, backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';

/** The most production-like stack available: Postgres and Redis in CI, PGlite on a bare machine. */
const backend = backends.at(-1)!;
const CLI_REDIRECT = 'http://127.0.0.1:53682/callback';
const ndjson = (rows: unknown[]) => rows.map((row) => JSON.stringify(row)).join('\n');

describe(`POST /admin/api/users/import (${backend})`, () => {
  let idp: TestIdp;
  let google: FakeGoogle;
  let api: string;
  let superAdmin: string;
  let admin: string;
  let superAdminId: string;

  async function adminToken(email: string, password: string) {
    const cli = await relyingParty(idp.issuer, adminCliClient);
    const start = await startAuthorization(cli, { redirect_uri: CLI_REDIRECT, scope: 'openid admin', resource: api });
    const callback = await signIn(new Browser([CLI_REDIRECT]), start.url, { email, password });
    return (await oidc.authorizationCodeGrant(cli, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce })).access_token;
  }

  async function importUsers(token: string, body: string, query = '', contentType = 'application/x-ndjson') {
    const response = await fetch(`${api}/users/import${query}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, body });
    return { status: response.status, body: await response.json() };
  }

  const accountOf = (email: string) =>
    idp.idp.database.db.selectFrom('accounts').selectAll().where('email', 'ilike', email).executeTakeFirst();
  const rolesOf = async (email: string) => (await idp.idp.accounts.rolesOf((await accountOf(email))!.id));

  beforeAll(async () => {
    google = await startFakeGoogle();
    idp = await startTestIdp({ backend, env: { GOOGLE_CLIENT_ID: google.clientId, GOOGLE_CLIENT_SECRET: google.clientSecret, GOOGLE_ISSUER: google.issuer } });
    google.register(`${idp.issuer}/interaction/callback/google`);
    api = `${idp.issuer}/admin/api`;
    superAdminId = (await idp.idp.accounts.createAccount({ email: 'root@example.com', password: 'root passphrase 1', roles: ['super_admin'], emailVerified: true })).id;
    await idp.idp.accounts.createAccount({ email: 'boss@example.com', password: 'boss passphrase 1', roles: ['admin'], emailVerified: true });
    superAdmin = await adminToken('root@example.com', 'root passphrase 1');
    admin = await adminToken('boss@example.com', 'boss passphrase 1');
  });
  afterAll(async () => {
    await idp?.destroy();
    await google?.stop().catch(() => {});
  });

  it('is for super admins only: an admin is refused, and nothing is imported', async () => {
    const refused = await importUsers(admin, ndjson([{ email: 'sneaky@example.com', roles: ['super_admin'] }]));
    expect(refused).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    expect(await accountOf('sneaky@example.com')).toBeUndefined();
  });

  it('refuses a body with invalid lines with a 400 naming each line, field and reason, and imports none of it', async () => {
    const body = ndjson([
      { email: 'fine@example.com' },
      { email: 'not-an-address', password_hash: 'md5:abc' },
      { email: 'FINE@example.com' },
      { email: 'odd@example.com', status: 'gone' },
      { email: 'chief@example.com', roles: ['chief'] },
    ]);
    const refused = await importUsers(superAdmin, body);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'invalid_request', invalid: 4, written: false });
    expect(refused.body.errors).toEqual([
      { line: 2, field: 'email', reason: 'not a valid email address' },
      { line: 2, field: 'password_hash', reason: expect.stringMatching(/^not a hash format we can verify/) },
      { line: 3, field: 'email', reason: 'the same email as line 1' },
      { line: 4, field: 'status', reason: 'must be active or disabled' },
      { line: 5, field: 'roles', reason: expect.stringContaining('unknown role "chief"') },
    ]);
    expect(await accountOf('fine@example.com')).toBeUndefined();
  });

  it('finds a repeated email or Google subject however far apart the lines are (batches of 1,000 apart)', async () => {
    const rows: Record<string, unknown>[] = Array.from({ length: 2500 }, (_, i) => ({ email: `far${i + 1}@example.com`, google_sub: `far-sub-${i + 1}` }));
    rows[2399] = { email: 'FAR1@example.com' };
    rows[2449] = { email: 'far-late@example.com', google_sub: 'far-sub-10' };
    const refused = await importUsers(superAdmin, ndjson(rows));
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ invalid: 2, written: false });
    expect(refused.body.errors).toEqual([
      { line: 2400, field: 'email', reason: 'the same email as line 1' },
      { line: 2450, field: 'google_sub', reason: 'the same Google subject as line 10' },
    ]);
    expect(await accountOf('far1@example.com')).toBeUndefined();
  });

  it('refuses a body that is not JSON Lines or CSV, and bad options', async () => {
    expect(await importUsers(superAdmin, '{"email":"x@example.com"}', '', 'application/json')).toMatchObject({ status: 415 });
    expect(await importUsers(superAdmin, '', '?on_conflict=merge')).toMatchObject({ status: 400, body: { field: 'on_conflict' } });
    expect(await importUsers(superAdmin, '', '?role_map=chief')).toMatchObject({ status: 400, body: { field: 'role_map' } });
    expect(await importUsers(superAdmin, 'email,shoe_size\nzed@example.com,44\n', '', 'text/csv')).toMatchObject({
      status: 400,
      body: { field: 'body', error_description: expect.stringContaining('shoe_size: not a column we import') },
    });
    const failed = await idp.idp.database.db.selectFrom('audit_events').select(['actor_id', 'changes']).where('action', '=', 'users.import').orderBy('id', 'desc').executeTakeFirst();
    expect(failed).toMatchObject({ actor_id: superAdminId, changes: { written: false, failed: true } });
  });

  it('imports a streamed NDJSON body with its options, audited; the people sign in with their old password and with Google', async () => {
    // A hash from another argon2 set-up, with weaker parameters than ours: the first sign-in replaces it.
    const oldHash = await argon2.hash('imported passphrase 1', { type: argon2.argon2id, memoryCost: 4096, timeCost: 2, parallelism: 1 });
    const rows = [
      { email: 'Ida@Example.com', email_verified: true, name: 'Ida Imported', roles: ['chief', 'user'], password_hash: oldHash, created_at: '2021-03-04T05:06:07Z', metadata: { plan: 'pro' } },
      { email: 'gus@example.com', email_verified: true, roles: ['member'], google_sub: 'google-gus-1' },
    ];
    const dry = await importUsers(superAdmin, ndjson(rows), '?dry_run=true&role_map=chief=moderator&create_roles=true');
    expect(dry).toMatchObject({ status: 200, body: { imported: 2, invalid: 0, dry_run: true, written: false, created_roles: ['member'] } });
    expect(await accountOf('ida@example.com')).toBeUndefined();

    const done = await importUsers(superAdmin, ndjson(rows), '?role_map=chief=moderator&create_roles=true');
    expect(done).toMatchObject({ status: 200, body: { imported: 2, updated: 0, skipped: 0, invalid: 0, written: true, created_roles: ['member'] } });
    expect(await rolesOf('ida@example.com')).toEqual(['moderator', 'user']);
    expect(await accountOf('ida@example.com')).toMatchObject({ email: 'Ida@Example.com', name: 'Ida Imported', metadata: { plan: 'pro' }, created_at: new Date('2021-03-04T05:06:07Z') });

    const again = await importUsers(superAdmin, ndjson(rows), '?role_map=chief=moderator&create_roles=true&on_conflict=skip');
    expect(again).toMatchObject({ status: 200, body: { imported: 0, skipped: 2, created_roles: [] } });
    const conflict = await importUsers(superAdmin, ndjson(rows.slice(0, 1)), '?role_map=chief=moderator');
    expect(conflict).toMatchObject({ status: 400, body: { errors: [{ line: 1, field: 'email', reason: expect.stringContaining('exists') }] } });

    const audited = await idp.idp.database.db.selectFrom('audit_events').select(['actor_id', 'action', 'changes']).where('action', '=', 'users.import').orderBy('id').execute();
    expect(audited.find((event) => event.changes?.written)).toMatchObject({ actor_id: superAdminId, changes: { imported: 2, createdRoles: ['member'], dryRun: false } });

    // Ida signs in to a relying party with the password of her old app; her hash becomes ours.
    const config = await relyingParty(idp.issuer, webAppClient);
    const start = await startAuthorization(config, { scope: 'openid email roles' });
    const tokens = await exchangeCode(config, await signIn(newBrowser(), start.url, { email: 'ida@example.com', password: 'imported passphrase 1' }), start);
    expect(await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)).toMatchObject({ email: 'Ida@Example.com', email_verified: true, roles: ['moderator', 'user'] });
    const rehashed = (await accountOf('ida@example.com'))!.password_hash!;
    expect(rehashed).not.toBe(oldHash);
    expect(rehashed).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);

    // Gus had signed in with Google: the same Google account lands in the imported account.
    google.addAccount('google-gus-1', { email: 'gus@gmail.test', email_verified: true });
    google.signInAs('google-gus-1');
    const browser = newBrowser();
    const googleStart = await startAuthorization(config, { scope: 'openid email roles' });
    const login = await browser.open(googleStart.url.href);
    const consent = (await browser.submit(login, 'form[action$="/google"]')).page!;
    const googleTokens = await exchangeCode(config, (await browser.submit(consent, 'form[action$="/confirm"]')).leftTo!, googleStart);
    expect(await oidc.fetchUserInfo(config, googleTokens.access_token, googleTokens.claims()!.sub)).toMatchObject({ email: 'gus@example.com', roles: ['member'] });
  });

  it('keeps nothing of a body cut short, even lines already written in its transaction', async () => {
    const lines = ndjson(Array.from({ length: 1500 }, (_, i) => ({ email: `cut${i}@example.com` })));
    const cut = request(`${api}/users/import`, { method: 'POST', headers: { authorization: `Bearer ${superAdmin}`, 'content-type': 'application/x-ndjson' } });
    cut.on('error', () => {});
    cut.write(`${lines}\n`);
    await sleep(500); // lets the server read a first batch; the outcome below does not depend on it
    cut.destroy();
    // Its inserts, had they been kept, would collide with these: this import waits for that one to end.
    expect(await importUsers(superAdmin, lines)).toMatchObject({ status: 200, body: { imported: 1500, invalid: 0 } });
  });

  it('updates existing people with on_conflict=update, and imports CSV', async () => {
    const csv = 'email,name,roles,status\nida@example.com,Ida Updated,user,disabled\ncsv@example.com,"Doe, Jo",guest,\n';
    const result = await importUsers(superAdmin, csv, '?on_conflict=update', 'text/csv');
    expect(result).toMatchObject({ status: 200, body: { imported: 1, updated: 1, invalid: 0 } });
    expect(await accountOf('ida@example.com')).toMatchObject({ name: 'Ida Updated', status: 'disabled', metadata: { plan: 'pro' } });
    expect(await rolesOf('ida@example.com')).toEqual(['user']);
    expect(await accountOf('csv@example.com')).toMatchObject({ name: 'Doe, Jo', status: 'active' });
  });
});
