import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { generate, generateSecret } from 'otplib';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { up as hashStoredClientSecrets } from '../../migrations/014_secrets_at_rest.ts';
import { Browser, type Navigation, type Page } from '../support/browser.ts';
import { adminCliClient, backends, RP_LOGOUT, RP_REDIRECT, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, relyingParty, startAuthorization, submitLogin } from '../support/rp.ts';

const CLI_REDIRECT = 'http://127.0.0.1:53682/callback';
const password = 'secrets at rest passphrase';
const codeAt = (secret: string, secondsFromNow = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + secondsFromNow });

/** Every row of every table, as text: what a database dump shows. */
async function sqlDump(idp: TestIdp): Promise<string> {
  const { db } = idp.idp.database;
  const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = 'public'`.execute(db);
  const dump: Record<string, unknown[]> = {};
  for (const { table_name } of tables.rows) dump[table_name] = (await sql`select * from ${sql.table(table_name)}`.execute(db)).rows;
  return JSON.stringify(dump);
}

/** Every key and value under this IdP's prefix, as text: what a Redis dump shows. */
async function redisDump(idp: TestIdp): Promise<string> {
  const redis = idp.idp.redis;
  if (!redis) return '';
  const entries: unknown[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${idp.shared.redisKeyPrefix}*`, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      const value =
        type === 'hash' ? await redis.hgetall(key) : type === 'zset' ? await redis.zrange(key, '0', '-1') : type === 'string' ? await redis.get(key) : type;
      entries.push([key, value]);
    }
  } while (cursor !== '0');
  return JSON.stringify(entries);
}

/** Walks the sign-in pages: password, authenticator setup (records the secret) or code, recovery codes, consent. */
async function signInThroughPages(browser: Browser, start: URL, email: string, totp: { secret?: string }): Promise<URL> {
  let step: Navigation = await browser.navigate(start.href);
  for (let i = 0; i < 8 && step.page; i += 1) {
    const page: Page = step.page;
    if (page.$('form[action$="/login"]').length) step = await submitLogin(browser, page, email, password);
    else if (page.$('form[action$="/second-factor/setup"]').length) {
      totp.secret = page.$('code.secret').text();
      step = await browser.submit(page, 'form[action$="/second-factor/setup"]', { code: await codeAt(totp.secret) });
    } else if (page.$('form[action$="/second-factor"]').length) {
      step = await browser.submit(page, 'form[action$="/second-factor"]', { code: await codeAt(totp.secret!, 30) });
    } else if (page.$('.recovery-codes').length) step = await browser.submit(page, 'form');
    else if (page.$('form[action$="/confirm"]').length) step = await browser.submit(page, 'form[action$="/confirm"]');
    else throw new Error(`unexpected page ${page.status} ${page.url}: ${page.$('h1').text()}`);
  }
  if (!step.leftTo) throw new Error('sign-in did not return to the app');
  return step.leftTo;
}

describe.each(backends)('secrets at rest (%s)', (backend) => {
  let idp: TestIdp;
  let api: string;
  let adminToken: string;

  const adminCall = async (method: string, route: string, body?: unknown) => {
    const response = await fetch(`${api}${route}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: (await response.json().catch(() => undefined)) as Record<string, any> };
  };

  const clientCredentials = (clientId: string, clientSecret: string) =>
    fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });

  beforeAll(async () => {
    idp = await startTestIdp({ backend, env: { MFA: 'required' } });
    api = `${idp.issuer}/admin/api`;
  });
  afterAll(() => idp.destroy());

  it('leaves no token, code, cookie, client secret or authenticator secret in the stores after a full sign-in, and all of them still work', async () => {
    await idp.idp.accounts.createAccount({ email: 'rita@example.com', password, roles: ['super_admin'], emailVerified: true });
    const browser = new Browser([RP_REDIRECT, RP_LOGOUT, CLI_REDIRECT]);
    const webApp = await relyingParty(idp.issuer, webAppClient);
    const start = await startAuthorization(webApp, { scope: 'openid email offline_access', prompt: 'consent' });
    const totp: { secret?: string } = {};
    const callback = await signInThroughPages(browser, start.url, 'rita@example.com', totp);
    const code = callback.searchParams.get('code')!;
    const tokens = await exchangeCode(webApp, callback, start);
    const sessionCookie = (await browser.jar.getCookies(idp.issuer)).find((cookie) => cookie.key === '_session')!.value;

    // An admin API token through the same browser session (admin-cli is first-party), then a client registered in the database.
    const cli = await relyingParty(idp.issuer, adminCliClient);
    const cliStart = await startAuthorization(cli, { redirect_uri: CLI_REDIRECT, scope: 'openid admin', resource: api });
    const cliCallback = await signInThroughPages(browser, cliStart.url, 'rita@example.com', totp);
    adminToken = (await oidc.authorizationCodeGrant(cli, cliCallback, { pkceCodeVerifier: cliStart.verifier, expectedState: cliStart.state, expectedNonce: cliStart.nonce })).access_token;
    const created = await adminCall('POST', '/clients', { client_name: 'Backend job', redirect_uris: [], grant_types: ['client_credentials'], response_types: [] });
    expect(created.status).toBe(201);
    const { client_id: clientId, client_secret: clientSecret } = created.body as { client_id: string; client_secret: string };

    const granted = await clientCredentials(clientId, clientSecret);
    expect(granted.status).toBe(200);
    const { access_token: serviceToken } = (await granted.json()) as { access_token: string };

    const live = {
      'client credentials token': serviceToken,
      'authorization code': code,
      'access token': tokens.access_token,
      'refresh token': tokens.refresh_token!,
      'admin API access token': adminToken,
      'session cookie': sessionCookie,
      'client secret': clientSecret,
      'authenticator secret': totp.secret!,
    };
    for (const value of Object.values(live)) expect(value.length).toBeGreaterThanOrEqual(16);
    const stores = (await sqlDump(idp)) + (await redisDump(idp));
    for (const [name, value] of Object.entries(live)) expect(stores, `the ${name} is readable in the stores`).not.toContain(value);

    // What the stores do hold is no substitute: the stored client secret and the access token's storage key are refused.
    const stored = await idp.idp.database.db.selectFrom('clients').select('metadata').where('client_id', '=', clientId).executeTakeFirstOrThrow();
    expect((await clientCredentials(clientId, String(stored.metadata.client_secret))).status).toBe(401);
    const storageKey = createHash('sha256').update(tokens.access_token).digest('base64url');
    expect(stores).toContain(storageKey);
    expect((await fetch(`${idp.issuer}/me`, { headers: { authorization: `Bearer ${storageKey}` } })).status).toBe(401);

    // And every live secret still works over HTTP.
    const me = await fetch(`${idp.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { email: string }).email).toBe('rita@example.com');
    const refreshed = await oidc.refreshTokenGrant(webApp, tokens.refresh_token!);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect((await clientCredentials(clientId, clientSecret)).status).toBe(200);
    expect((await adminCall('GET', '/users?per_page=1')).status).toBe(200);
    // The session cookie signs the browser in without a page (SSO), and the authenticator secret still makes codes.
    const again = await startAuthorization(webApp, { scope: 'openid', prompt: 'none' });
    const silent = (await browser.navigate(again.url.href)).leftTo!;
    expect(silent.searchParams.get('error')).toBeNull();
    expect((await exchangeCode(webApp, silent, again)).claims()?.acr).toBe('urn:idp:acr:2fa');
    const fresh = new Browser([RP_REDIRECT]);
    const second = await startAuthorization(webApp, { scope: 'openid' });
    expect((await exchangeCode(webApp, await signInThroughPages(fresh, second.url, 'rita@example.com', totp), second)).claims()?.amr).toEqual(['pwd', 'otp']);
  }, 90_000);

  it('refuses to register a database client for client_secret_jwt or HS256, which need the secret it does not keep', async () => {
    const jwt = await adminCall('POST', '/clients', { redirect_uris: [], grant_types: ['client_credentials'], response_types: [], token_endpoint_auth_method: 'client_secret_jwt' });
    expect(jwt).toMatchObject({ status: 400, body: { field: 'token_endpoint_auth_method' } });
    expect(jwt.body.error_description).toMatch(/stored only as a hash/);
    const hs = await adminCall('POST', '/clients', { redirect_uris: [RP_REDIRECT], id_token_signed_response_alg: 'HS256' });
    expect(hs).toMatchObject({ status: 400, body: { field: 'id_token_signed_response_alg' } });
  });

  it('hashes client secrets and seals authenticator secrets stored in plaintext before, and both keep working', async () => {
    const { db } = idp.idp.database;
    const clientId = randomUUID();
    const clientSecret = 'a secret stored in plaintext before 014';
    await db
      .insertInto('clients')
      .values({ client_id: clientId, metadata: JSON.stringify({ client_id: clientId, client_secret: clientSecret, redirect_uris: [], grant_types: ['client_credentials'], response_types: [] }) })
      .execute();
    const account = await idp.idp.accounts.createAccount({ email: 'otto@example.com', password, emailVerified: true });
    const totpSecret = generateSecret();
    await db.insertInto('totp_credentials').values({ account_id: account.id, secret: totpSecret, confirmed_at: new Date() }).execute();

    await hashStoredClientSecrets(db);
    await idp.stop();
    await idp.start();

    const rows = JSON.stringify([
      await idp.idp.database.db.selectFrom('clients').selectAll().where('client_id', '=', clientId).execute(),
      await idp.idp.database.db.selectFrom('totp_credentials').selectAll().where('account_id', '=', account.id).execute(),
    ]);
    expect(rows).not.toContain(clientSecret);
    expect(rows).not.toContain(totpSecret);
    expect((await clientCredentials(clientId, clientSecret)).status).toBe(200);

    const webApp = await relyingParty(idp.issuer, webAppClient);
    const start = await startAuthorization(webApp, { scope: 'openid' });
    const callback = await signInThroughPages(new Browser([RP_REDIRECT]), start.url, 'otto@example.com', { secret: totpSecret });
    expect((await exchangeCode(webApp, callback, start)).claims()?.amr).toEqual(['pwd', 'otp']);
  }, 120_000);
});

describe('rotating SECRETS_KEY', () => {
  let idp: TestIdp;
  const key = (kid: string) => `${kid}:${Buffer.alloc(32, kid).toString('base64')}`;
  afterAll(() => idp?.destroy());

  it('re-encrypts authenticator secrets under the new first key at start, keeps sessions, and then needs the old key no more', async () => {
    idp = await startTestIdp({ backend: backends[0]!, env: { MFA: 'required', SECRETS_KEY: key('k1') } });
    const account = await idp.idp.accounts.createAccount({ email: 'rosa@example.com', password, emailVerified: true });
    const webApp = await relyingParty(idp.issuer, webAppClient);
    const storedSecret = async () =>
      (await idp.idp.database.db.selectFrom('totp_credentials').select('secret').where('account_id', '=', account.id).executeTakeFirstOrThrow()).secret;
    const signInAgain = async (browser: Browser, totp: { secret?: string }, secondsFromNow: number) => {
      const start = await startAuthorization(webApp, { scope: 'openid' });
      let step = await browser.navigate(start.url.href);
      if (step.page?.$('form[action$="/login"]').length) step = await submitLogin(browser, step.page, 'rosa@example.com', password);
      if (step.page?.$('form[action$="/second-factor"]').length) {
        step = await browser.submit(step.page, 'form[action$="/second-factor"]', { code: await codeAt(totp.secret!, secondsFromNow) });
      }
      while (step.page?.$('form[action$="/confirm"]').length) step = await browser.submit(step.page, 'form[action$="/confirm"]');
      if (!step.leftTo) throw new Error(`no return to the app: ${step.page.status} ${step.page.url} ${step.page.$('h1').text()} ${step.page.$('.error, [role=alert]').text()}`);
      return (await exchangeCode(webApp, step.leftTo, start)).claims()!;
    };

    const signedIn = new Browser([RP_REDIRECT]);
    const totp: { secret?: string } = {};
    const first = await startAuthorization(webApp, { scope: 'openid' });
    await exchangeCode(webApp, await signInThroughPages(signedIn, first.url, 'rosa@example.com', totp), first);
    expect(await storedSecret()).toMatch(/^k1\./);

    // Roll 2: the new key first, the old one still listed.
    await idp.stop();
    await idp.start({ SECRETS_KEY: `${key('k2')},${key('k1')}` });
    expect(await storedSecret()).toMatch(/^k2\./);
    expect((await signInAgain(signedIn, totp, 0)).acr, 'the session sealed under k1 is still signed in').toBe('urn:idp:acr:2fa');

    // Roll 3: the old key removed; the authenticator secret, now under k2, still checks codes (the next step's: the setup spent this one).
    await idp.stop();
    await idp.start({ SECRETS_KEY: key('k2') });
    expect((await signInAgain(new Browser([RP_REDIRECT]), totp, 30)).amr).toEqual(['pwd', 'otp']);
  }, 180_000);
});
