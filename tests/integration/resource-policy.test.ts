import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Browser } from '../support/browser.ts';
import {
  adminCliClient,
  backends,
  firstPartyClient,
  RP_REDIRECT,
  serviceClient,
  spaClient,
  startTestIdp,
  testClients,
  type TestIdp,
  webAppClient,
} from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';

const backend = backends.at(-1)!;
const API = 'https://api.test.example';
const PEOPLE_API = 'https://people.test.example';
const CLI_REDIRECT = 'http://127.0.0.1:53682/callback';
const superAdmin = { email: 'root@example.com', password: 'root passphrase 1' };
const admin = { email: 'ada@example.com', password: 'ada passphrase 1' };
const person = { email: 'pat@example.com', password: 'pat passphrase 1' };

/** A DPoP key pair, and proofs signed with it as a client would (or as an attacker varies them). */
async function dpopKey() {
  const keyPair = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(keyPair.publicKey);
  return {
    keyPair,
    jkt: await calculateJwkThumbprint(jwk),
    async proof(method: string, url: string, token: string, overrides: Record<string, unknown> = {}) {
      const ath = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))).toString('base64url');
      return new SignJWT({ htm: method, htu: url, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), ath, ...overrides })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
        .sign(keyPair.privateKey);
    },
  };
}

describe(`which client may obtain tokens for which API, and what the APIs accept (${backend})`, () => {
  let idp: TestIdp;
  let adminApi: string;
  let superToken: string;
  let adminToken: string;

  async function api(token: string | undefined, method: string, route: string, body?: unknown, scheme = 'Bearer', headers: Record<string, string> = {}) {
    const response = await fetch(`${adminApi}${route}`, {
      method,
      headers: { ...(token ? { authorization: `${scheme} ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  }

  /** An admin API token through admin-cli, consenting on the page the admin API always shows. */
  async function cliToken(credentials: { email: string; password: string }, options: { DPoP?: oidc.DPoPHandle } = {}) {
    const cli = await relyingParty(idp.issuer, adminCliClient);
    const start = await startAuthorization(cli, { redirect_uri: CLI_REDIRECT, scope: 'openid admin', resource: adminApi });
    const callback = await signIn(new Browser([CLI_REDIRECT]), start.url, credentials);
    const tokens = await oidc.authorizationCodeGrant(
      cli,
      callback,
      { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce },
      undefined,
      options,
    );
    return tokens.access_token;
  }

  /** Where the IdP sends the browser for an authorization request (an error goes back to the client). */
  async function authorizationAnswer(browser: Browser, url: URL) {
    const step = await browser.navigate(url.href);
    return step.leftTo ? Object.fromEntries(step.leftTo.searchParams) : { page: step.page!.$('h1').text() };
  }

  async function signJwt(claims: Record<string, unknown>, options: { exp?: boolean } = {}) {
    const secrets = JSON.parse(readFileSync(path.join(idp.dataDir, 'secrets.json'), 'utf8'));
    const rsa = secrets.jwks.keys.find((key: { alg: string }) => key.alg === 'RS256');
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ scope: 'admin', client_id: 'admin-cli', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: rsa.kid, typ: 'at+jwt' })
      .setIssuer(idp.issuer)
      .setAudience(adminApi)
      .setSubject(String(claims.sub))
      .setIssuedAt(now);
    if (options.exp !== false) jwt.setExpirationTime(now + 300);
    return jwt.sign(await importJWK(rsa, 'RS256'));
  }

  beforeAll(async () => {
    const resourceServersFile = path.join(tmpdir(), `resource-policy-${process.pid}.json`);
    writeFileSync(
      resourceServersFile,
      JSON.stringify([
        { indicator: API, name: 'Things API', scopes: ['things:read', 'things:write'], accessTokenTTL: 900 },
        { indicator: PEOPLE_API, name: 'People API', scopes: ['people:read'], personFacing: true },
      ]),
    );
    idp = await startTestIdp({
      backend,
      env: { RESOURCE_SERVERS_FILE: resourceServersFile },
      clients: testClients.map((client) =>
        client.client_id === webAppClient.client_id
          ? { ...client, allowed_resources: { [API]: ['things:read'] } }
          : client.client_id === serviceClient.client_id
            ? { ...client, allowed_resources: { [API]: ['things:read'], [PEOPLE_API]: ['people:read'] } }
            : client,
      ),
    });
    adminApi = `${idp.issuer}/admin/api`;
    const root = await idp.idp.accounts.createAccount({ ...superAdmin, roles: ['super_admin'], emailVerified: true });
    await idp.idp.accounts.createAccount({ ...admin, roles: ['admin'], emailVerified: true });
    await idp.idp.accounts.createAccount({ ...person, emailVerified: true });
    superToken = await cliToken(superAdmin);
    adminToken = await cliToken(admin);
    expect(decodeJwt(superToken).sub).toBe(root.id);
  });
  afterAll(() => idp?.destroy());

  it('refuses the admin API with invalid_target at authorization to every client but admin-cli: third-party, public and first-party alike', async () => {
    for (const client of [webAppClient, spaClient, firstPartyClient]) {
      const config = await relyingParty(idp.issuer, client);
      const start = await startAuthorization(config, { scope: 'openid admin', resource: adminApi });
      expect(await authorizationAnswer(newBrowser(), start.url), client.client_id).toMatchObject({ error: 'invalid_target', state: start.state });
    }
  });

  it('refuses the admin API with invalid_target at the token endpoint once the client is no longer allowed it: code and refresh token', async () => {
    const made = await api(superToken, 'POST', '/clients', {
      client_name: 'Ops tool',
      redirect_uris: [RP_REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      allowed_resources: { [adminApi]: ['admin'] },
    });
    expect(made.status).toBe(201);
    const config = await relyingParty(idp.issuer, made.body);
    const withRefresh = await startAuthorization(config, { scope: 'openid admin offline_access', resource: adminApi, prompt: 'consent' });
    const tokens = await exchangeCode(config, await signIn(newBrowser(), withRefresh.url, superAdmin), withRefresh);
    const pending = await startAuthorization(config, { scope: 'openid admin', resource: adminApi });
    const callback = await signIn(newBrowser(), pending.url, superAdmin);

    expect((await api(superToken, 'PATCH', `/clients/${made.body.client_id}`, { allowed_resources: {} })).status).toBe(200);
    await expect(
      oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce }),
    ).rejects.toMatchObject({ error: 'invalid_target' });
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_target' });
  });

  it('stops the escalation of finding 1 at its first step: an admin may not register a first-party client or one allowed the admin API', async () => {
    const base = { redirect_uris: [RP_REDIRECT], grant_types: ['authorization_code'], response_types: ['code'] };
    expect((await api(adminToken, 'POST', '/clients', { ...base, client_name: 'Evil', first_party: true })).status).toBe(403);
    expect((await api(adminToken, 'POST', '/clients', { ...base, client_name: 'Evil', allowed_resources: { [adminApi]: ['admin'] } })).status).toBe(403);
    const plain = await api(adminToken, 'POST', '/clients', { ...base, client_name: 'Plain' });
    expect(plain.status).toBe(201);
    expect((await api(adminToken, 'PATCH', `/clients/${plain.body.client_id}`, { first_party: true })).status).toBe(403);
    expect((await api(adminToken, 'PATCH', `/clients/${plain.body.client_id}`, { allowed_resources: { [adminApi]: ['admin'] } })).status).toBe(403);
    // Its ordinary settings an admin still changes; an API it is allowed, too.
    expect((await api(adminToken, 'PATCH', `/clients/${plain.body.client_id}`, { client_name: 'Plainer', allowed_resources: { [API]: ['things:read'] } })).status).toBe(200);
    expect((await api(adminToken, 'PATCH', `/clients/${plain.body.client_id}`, { allowed_resources: { 'https://unknown.example': ['x'] } })).status).toBe(400);

    // A super admin may make a first-party client, which still gets no admin API token.
    const firstParty = await api(superToken, 'POST', '/clients', { ...base, client_name: 'Ours', first_party: true });
    expect(firstParty.status).toBe(201);
    const config = await relyingParty(idp.issuer, firstParty.body);
    const start = await startAuthorization(config, { scope: 'openid admin', resource: adminApi, prompt: 'none' });
    expect(await authorizationAnswer(newBrowser(), start.url)).toMatchObject({ error: 'invalid_target' });
  });

  it('never grants the admin API silently, not even to a first-party client a super admin allowed it, once consented', async () => {
    const made = await api(superToken, 'POST', '/clients', {
      client_name: 'Ops dashboard',
      redirect_uris: [RP_REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      first_party: true,
      allowed_resources: { [adminApi]: ['admin'] },
    });
    expect(made.status).toBe(201);
    const config = await relyingParty(idp.issuer, made.body);
    const browser = newBrowser();
    const start = await startAuthorization(config, { scope: 'openid admin offline_access', resource: adminApi });
    const login = await browser.open(start.url.href);
    const consent = (await browser.submit(login, 'form[action$="/login"]', superAdmin)).page!;
    expect(consent.$('h1').text()).toBe('Allow access?');
    expect(consent.$('.scopes').text()).toContain('Admin API');
    const tokens = await exchangeCode(config, (await browser.submit(consent, 'form[action$="/confirm"]')).leftTo!, start);
    expect((await api(tokens.access_token, 'GET', '/users?per_page=1')).status).toBe(200);

    // The same browser, the same session, the grant given a moment ago: a silent request is still refused.
    const silent = await startAuthorization(config, { scope: 'openid admin', resource: adminApi, prompt: 'none' });
    expect(await authorizationAnswer(browser, silent.url)).toMatchObject({ error: 'consent_required', state: silent.state });
    // Without prompt=none it asks again rather than passing through.
    const loud = await startAuthorization(config, { scope: 'openid admin', resource: adminApi });
    const asked = await browser.open(loud.url.href);
    expect(asked.$('h1').text()).toBe('Allow access?');
    expect(asked.$('.scopes').text()).toContain('Admin API');
    const again = await exchangeCode(config, (await browser.submit(asked, 'form[action$="/confirm"]')).leftTo!, loud);
    expect((await api(again.access_token, 'GET', '/users?per_page=1')).status).toBe(200);
    // What is not privileged stays silent for a first-party client.
    const plain = await startAuthorization(config, { scope: 'openid email', prompt: 'none' });
    expect(await authorizationAnswer(browser, plain.url)).toMatchObject({ code: expect.any(String) });
  });

  it('never mints an admin API token from client credentials, even for a client allowed the admin API', async () => {
    const made = await api(superToken, 'POST', '/clients', {
      client_name: 'Robot',
      redirect_uris: [],
      grant_types: ['client_credentials'],
      response_types: [],
      allowed_resources: { [adminApi]: ['admin'] },
    });
    expect(made.status).toBe(201);
    const robot = await relyingParty(idp.issuer, made.body);
    await expect(oidc.clientCredentialsGrant(robot, { resource: adminApi, scope: 'admin' })).rejects.toMatchObject({ error: 'invalid_target' });
    const service = await relyingParty(idp.issuer, serviceClient);
    await expect(oidc.clientCredentialsGrant(service, { resource: adminApi, scope: 'admin' })).rejects.toMatchObject({ error: 'invalid_target' });
    // An API of RESOURCE_SERVERS_FILE marked personFacing likewise; one that is not, the client gets.
    await expect(oidc.clientCredentialsGrant(service, { resource: PEOPLE_API, scope: 'people:read' })).rejects.toMatchObject({ error: 'invalid_target' });
    expect(decodeJwt((await oidc.clientCredentialsGrant(service, { resource: API, scope: 'things:read' })).access_token)).toMatchObject({ aud: API, sub: serviceClient.client_id });
  });

  it('checks at the admin API the client a token was issued to, that it expires, and names a missing scope with 403', async () => {
    const root = decodeJwt(superToken).sub!;
    const foreignClient = await api(await signJwt({ sub: root, client_id: webAppClient.client_id }), 'GET', '/users');
    expect(foreignClient).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    const noExp = await api(await signJwt({ sub: root }, { exp: false }), 'GET', '/users');
    expect(noExp).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    const noScope = await api(await signJwt({ sub: root, scope: 'openid' }), 'GET', '/users');
    expect(noScope).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });
    expect(noScope.headers.get('www-authenticate')).toMatch(/^Bearer realm="admin", error="insufficient_scope".*scope="admin"/);

    // A real token of a client that is then deleted stops working.
    const made = await api(superToken, 'POST', '/clients', {
      client_name: 'Short-lived tool',
      redirect_uris: [RP_REDIRECT],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      allowed_resources: { [adminApi]: ['admin'] },
    });
    const config = await relyingParty(idp.issuer, made.body);
    const start = await startAuthorization(config, { scope: 'openid admin', resource: adminApi });
    const token = (await exchangeCode(config, await signIn(newBrowser(), start.url, superAdmin), start)).access_token;
    expect((await api(token, 'GET', '/users?per_page=1')).status).toBe(200);
    expect((await api(superToken, 'DELETE', `/clients/${made.body.client_id}`)).status).toBe(204);
    expect(await api(token, 'GET', '/users?per_page=1')).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
  });

  it("honours each resource server's token lifetime: 600 s for the admin API, the file's 900 s for another API", async () => {
    const { iat, exp } = decodeJwt(superToken);
    expect(exp! - iat!).toBe(600);
    const config = await relyingParty(idp.issuer, webAppClient);
    const start = await startAuthorization(config, { scope: 'openid things:read', resource: API, prompt: 'consent' });
    const token = decodeJwt((await exchangeCode(config, await signIn(newBrowser(), start.url, person), start)).access_token);
    expect(token).toMatchObject({ aud: API, scope: 'things:read', client_id: webAppClient.client_id });
    expect(token.exp! - token.iat!).toBe(900);
  });

  it('grants an API only the scopes the client registration allows', async () => {
    const config = await relyingParty(idp.issuer, webAppClient);
    const start = await startAuthorization(config, { scope: 'openid things:read things:write', resource: API, prompt: 'consent' });
    const browser = newBrowser();
    const consent = (await browser.submit(await browser.open(start.url.href), 'form[action$="/login"]', person)).page!;
    expect(consent.$('.scopes').text()).toContain('Use Things API on your behalf: things:read');
    expect(consent.$('.scopes').text()).not.toContain('things:write');
    const tokens = await exchangeCode(config, (await browser.submit(consent, 'form[action$="/confirm"]')).leftTo!, start);
    expect(decodeJwt(tokens.access_token).scope).toBe('things:read');
  });

  it('accepts a DPoP-bound admin API token only with the DPoP scheme and a fresh, matching proof', async () => {
    const key = await dpopKey();
    const cli = await relyingParty(idp.issuer, adminCliClient);
    const token = await cliToken(superAdmin, { DPoP: oidc.getDPoPHandle(cli, key.keyPair) });
    expect((decodeJwt(token).cnf as { jkt: string }).jkt).toBe(key.jkt);
    const url = `${adminApi}/users`;

    // An unbound token presented as DPoP is refused as well.
    expect(await api(superToken, 'GET', '/users', undefined, 'DPoP', { dpop: await key.proof('GET', url, superToken) })).toMatchObject({
      status: 401,
      body: { error: 'invalid_token' },
    });
    const asBearer = await api(token, 'GET', '/users');
    expect(asBearer).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    expect(await api(token, 'GET', '/users', undefined, 'DPoP')).toMatchObject({ status: 401, body: { error: 'invalid_dpop_proof' } });

    const proof = await key.proof('GET', url, token);
    expect((await api(token, 'GET', '/users?per_page=1', undefined, 'DPoP', { dpop: proof })).status).toBe(200);
    const replayed = await api(token, 'GET', '/users?per_page=1', undefined, 'DPoP', { dpop: proof });
    expect(replayed).toMatchObject({ status: 401, body: { error: 'invalid_dpop_proof', error_description: 'the DPoP proof was used before' } });
    expect(replayed.headers.get('www-authenticate')).toMatch(/^DPoP realm="admin", error="invalid_dpop_proof"/);

    const thief = await dpopKey();
    const bad: [string, string][] = [
      ['another method', await key.proof('POST', url, token)],
      ['another URL', await key.proof('GET', `${adminApi}/roles`, token)],
      ['another token', await key.proof('GET', url, superToken)],
      ['an old proof', await key.proof('GET', url, token, { iat: Math.floor(Date.now() / 1000) - 3600 })],
      ['another key', await thief.proof('GET', url, token)],
    ];
    for (const [what, badProof] of bad) {
      expect(await api(token, 'GET', '/users', undefined, 'DPoP', { dpop: badProof }), what).toMatchObject({ status: 401, body: { error: 'invalid_dpop_proof' } });
    }
  });

  it('accepts a DPoP-bound account API token with a proof, refuses it as Bearer, and names a missing scope', async () => {
    const spa = await relyingParty(idp.issuer, spaClient);
    const key = await dpopKey();
    const start = await startAuthorization(spa, { scope: 'openid account', prompt: 'consent' });
    const tokens = await oidc.authorizationCodeGrant(
      spa,
      await signIn(newBrowser(), start.url, person),
      { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce },
      undefined,
      { DPoP: oidc.getDPoPHandle(spa, key.keyPair) },
    );
    const url = `${idp.issuer}/account/api/me`;
    const call = (scheme: string, headers: Record<string, string> = {}) =>
      fetch(url, { headers: { authorization: `${scheme} ${tokens.access_token}`, ...headers } });
    expect((await call('Bearer')).status).toBe(401);
    const ok = await call('DPoP', { dpop: await key.proof('GET', url, tokens.access_token) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ email: person.email });
    expect((await call('DPoP', { dpop: await (await dpopKey()).proof('GET', url, tokens.access_token) })).status).toBe(401);

    const web = await relyingParty(idp.issuer, webAppClient);
    const plain = await startAuthorization(web, { scope: 'openid email' });
    const emailOnly = await exchangeCode(web, await signIn(newBrowser(), plain.url, person), plain);
    const refused = await fetch(url, { headers: { authorization: `Bearer ${emailOnly.access_token}` } });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="account"/);
  });

  it("revokes a deleted client's grants and tokens: its account API token stops working and its refresh token is gone", async () => {
    const made = await api(superToken, 'POST', '/clients', {
      client_name: 'Soon gone',
      redirect_uris: [RP_REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    });
    const config = await relyingParty(idp.issuer, made.body);
    const start = await startAuthorization(config, { scope: 'openid account offline_access', prompt: 'consent' });
    const tokens = await exchangeCode(config, await signIn(newBrowser(), start.url, person), start);
    const me = () => fetch(`${idp.issuer}/account/api/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect((await me()).status).toBe(200);

    expect((await api(superToken, 'DELETE', `/clients/${made.body.client_id}`)).status).toBe(204);
    expect((await me()).status).toBe(401);
    expect(await idp.idp.provider.AccessToken.find(tokens.access_token)).toBeUndefined();
    expect(await idp.idp.provider.RefreshToken.find(tokens.refresh_token!)).toBeUndefined();
  });
});
