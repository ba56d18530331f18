import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  backends,
  parOnlyClient,
  RP_LOGOUT,
  RP_REDIRECT,
  serviceClient,
  spaClient,
  startTestIdp,
  testClients,
  type TestIdp,
  tvClient,
  webAppClient,
} from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization, submitLogin } from '../support/rp.ts';

const grace = { email: 'grace@example.com', password: 'grace hopper password' };
const API = 'https://api.test.example';

/** A relying party's back-channel logout endpoint: records each logout_token it is sent. */
async function backchannelReceiver() {
  const tokens: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      tokens.push(new URLSearchParams(body).get('logout_token') ?? '');
      res.writeHead(200).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/backchannel`, tokens, close: () => server.close() };
}

describe.each(backends)('OAuth and OIDC protocol surface (%s)', (backend) => {
  let idp: TestIdp;
  let receiver: Awaited<ReturnType<typeof backchannelReceiver>>;
  const webApp = () => relyingParty(idp.issuer, webAppClient);

  beforeAll(async () => {
    receiver = await backchannelReceiver();
    const resourceServersFile = path.join(tmpdir(), `resource-servers-${process.pid}-${backend}.json`);
    writeFileSync(resourceServersFile, JSON.stringify([{ indicator: API, name: 'Things API', scopes: ['things:read', 'things:write'] }]));
    idp = await startTestIdp({
      backend,
      env: { RESOURCE_SERVERS_FILE: resourceServersFile },
      clients: [
        ...testClients.map((client) =>
          client.client_id === webAppClient.client_id
            ? { ...client, backchannel_logout_uri: receiver.url, backchannel_logout_session_required: true, allowed_resources: { [API]: ['things:read', 'things:write'] } }
            : client.client_id === serviceClient.client_id
              ? { ...client, scope: 'things:read', allowed_resources: { [API]: ['things:read'] } }
              : client,
        ),
      ],
    });
    await idp.idp.accounts.createAccount({ ...grace, name: 'Grace Hopper', emailVerified: true });
  });
  afterAll(async () => {
    receiver?.close();
    await idp?.destroy();
  });

  it('device authorization grant: the person enters the code, signs in, and the device gets tokens', async () => {
    const tv = await relyingParty(idp.issuer, tvClient);
    const device = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid email offline_access' });
    expect(device.user_code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);

    // Before the person acts, the device is told to wait.
    const early = oidc.genericGrantRequest(tv, 'urn:ietf:params:oauth:grant-type:device_code', { device_code: device.device_code });
    await expect(early).rejects.toMatchObject({ error: 'authorization_pending' });
    // The device polls again no sooner than its interval (5 seconds), or is told slow_down.
    const nextPoll = new Promise((resolve) => setTimeout(resolve, 5100));

    const browser = newBrowser();
    const codePage = await browser.open(device.verification_uri);
    expect(codePage.$('h1').text()).toBe('Connect a device');
    const wrong = (await browser.submit(codePage, 'form', { user_code: 'BCDF-GHJK' })).page!;
    expect(wrong.status).toBe(400);
    expect(wrong.$('[role=alert]').text()).toBe('That code is not right. Check it and try again.');

    const confirm = (await browser.submit(wrong, 'form', { user_code: device.user_code.toLowerCase() })).page!;
    expect(confirm.$('h1').text()).toBe('Is this your device?');
    expect(confirm.$('.user-code').text()).toBe(device.user_code);
    expect(confirm.$('.lead').text()).toContain('Living Room TV');

    const login = (await browser.submit(confirm, 'form:has(input[name=confirm])')).page!;
    const consent = (await submitLogin(browser, login, grace.email, grace.password)).page!;
    expect(consent.$('h1').text()).toBe('Allow access?');
    const done = (await browser.submit(consent, 'form[action$="/confirm"]')).page!;
    expect(done.$('h1').text()).toBe('Your device is connected');

    await nextPoll;
    const tokens = await oidc.genericGrantRequest(tv, 'urn:ietf:params:oauth:grant-type:device_code', { device_code: device.device_code });
    expect(tokens.refresh_token).toBeTruthy();
    const userinfo = await oidc.fetchUserInfo(tv, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo.email).toBe(grace.email);
    // A device code works once.
    await expect(
      oidc.genericGrantRequest(tv, 'urn:ietf:params:oauth:grant-type:device_code', { device_code: device.device_code }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('device authorization grant: cancelling on the confirm page tells the device access_denied', async () => {
    const tv = await relyingParty(idp.issuer, tvClient);
    const device = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const browser = newBrowser();
    // The complete URI carries the code; without JavaScript the person presses Continue once.
    const carried = await browser.open(device.verification_uri_complete!);
    const confirm = (await browser.submit(carried, 'form')).page!;
    expect(confirm.$('h1').text()).toBe('Is this your device?');
    const cancelled = (await browser.submit(confirm, 'form:has(input[name=abort])')).page!;
    expect(cancelled.$('[role=alert]').text()).toContain('You cancelled the sign-in');
    await expect(
      oidc.genericGrantRequest(tv, 'urn:ietf:params:oauth:grant-type:device_code', { device_code: device.device_code }),
    ).rejects.toMatchObject({ error: 'access_denied' });
  });

  it('pushed authorization requests: the browser carries only a request_uri, and PAR-only clients must use it', async () => {
    const config = await webApp();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: RP_REDIRECT,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const tokens = await oidc.authorizationCodeGrant(config, await signIn(newBrowser(), url, grace), { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()?.sub).toBeTruthy();

    const parOnly = await relyingParty(idp.issuer, parOnlyClient);
    const plain = await startAuthorization(parOnly);
    const refused = await newBrowser().navigate(plain.url.href);
    expect(refused.leftTo?.searchParams.get('error')).toBe('invalid_request');
    expect(refused.leftTo?.searchParams.get('error_description')).toMatch(/pushed authorization request/i);
  });

  it('DPoP: tokens are bound to the client key and useless as bearer tokens', async () => {
    // A public client: its refresh tokens are bound to its DPoP key too (RFC 9449, section 5).
    const config = await relyingParty(idp.issuer, spaClient);
    const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
    const start = await startAuthorization(config, { scope: 'openid email offline_access', prompt: 'consent' });
    const callback = await signIn(newBrowser(), start.url, grace);
    const tokens = await oidc.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce },
      undefined,
      { DPoP },
    );
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub, { DPoP });
    expect(userinfo.email).toBe(grace.email);

    const asBearer = await fetch(`${idp.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(asBearer.status).toBe(401);

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP });
    expect(refreshed.token_type.toLowerCase()).toBe('dpop');
    // Another key cannot use the refresh token.
    const thief = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
    await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token!, undefined, { DPoP: thief })).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('resource indicators: a registered API gets RFC 9068 JWT access tokens with its audience and scopes', async () => {
    const config = await webApp();
    const jwks = createRemoteJWKSet(new URL(`${idp.issuer}/jwks`));
    const start = await startAuthorization(config, { scope: 'openid roles things:read', resource: API, prompt: 'consent' });
    const browser = newBrowser();
    const login = await browser.open(start.url.href);
    const consent = (await submitLogin(browser, login, grace.email, grace.password)).page!;
    expect(consent.$('.scopes').text()).toContain('Use Things API on your behalf: things:read');
    const callback = (await browser.submit(consent, 'form[action$="/confirm"]')).leftTo!;
    const tokens = await exchangeCode(config, callback, start);

    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: idp.issuer,
      audience: API,
      typ: 'at+jwt',
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ sub: tokens.claims()!.sub, client_id: webAppClient.client_id, scope: 'things:read', roles: ['user'] });
    // The roles scope puts the roles in the ID token as well.
    expect(tokens.claims()).toMatchObject({ roles: ['user'] });

    // Machine to machine: client credentials for the same API.
    const service = await relyingParty(idp.issuer, serviceClient);
    const machine = await oidc.clientCredentialsGrant(service, { resource: API, scope: 'things:read' });
    const verified = await jwtVerify(machine.access_token, jwks, { issuer: idp.issuer, audience: API, typ: 'at+jwt' });
    expect(verified.payload).toMatchObject({ client_id: serviceClient.client_id, scope: 'things:read' });
    expect(verified.payload.roles).toBeUndefined();

    await expect(oidc.clientCredentialsGrant(service, { resource: "https://unknown.example" })).rejects.toMatchObject({
      error: 'invalid_target',
    });
  });

  it('prompt=none and max_age: silent sign-in while the session lasts, a fresh password when the RP demands it', async () => {
    const config = await webApp();
    const browser = newBrowser();
    const first = await startAuthorization(config, { max_age: '3600' });
    const firstTokens = await exchangeCode(config, await signIn(browser, first.url, grace), first);
    const firstAuthTime = firstTokens.claims()!.auth_time!;

    const silent = await startAuthorization(config, { prompt: 'none' });
    const silentCallback = (await browser.navigate(silent.url.href)).leftTo!;
    expect(silentCallback.searchParams.get('code')).toBeTruthy();

    const needsConsent = await startAuthorization(config, { prompt: 'none', scope: 'openid roles' });
    expect((await browser.navigate(needsConsent.url.href)).leftTo?.searchParams.get('error')).toBe('consent_required');

    await new Promise((resolve) => setTimeout(resolve, 1100));
    const fresh = await startAuthorization(config, { max_age: '0' });
    const page = await browser.open(fresh.url.href);
    expect(page.$('h1').text()).toBe('Sign in');
    const callback = (await submitLogin(browser, page, grace.email, grace.password)).leftTo!;
    const freshTokens = await exchangeCode(config, callback, fresh);
    expect(freshTokens.claims()!.auth_time).toBeGreaterThan(firstAuthTime);
  });

  it('introspection answers a client about its own tokens only, and revoking a refresh token revokes its whole grant', async () => {
    const config = await webApp();
    const start = await startAuthorization(config, { scope: 'openid offline_access', prompt: 'consent' });
    const tokens = await exchangeCode(config, await signIn(newBrowser(), start.url, grace), start);

    const spa = await relyingParty(idp.issuer, spaClient);
    expect((await oidc.tokenIntrospection(spa, tokens.access_token)).active).toBe(false);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);

    await oidc.tokenRevocation(config, tokens.refresh_token!);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    await expect(oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)).rejects.toMatchObject({ status: 401 });
  });

  it('back-channel logout: the relying party is told server to server when the person signs out', async () => {
    const config = await webApp();
    const browser = newBrowser();
    const start = await startAuthorization(config);
    const tokens = await exchangeCode(config, await signIn(browser, start.url, grace), start);
    const { sub, sid } = tokens.claims()!;
    expect(sid).toBeTruthy();

    const logout = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: RP_LOGOUT });
    const confirm = await browser.open(logout.href);
    const before = receiver.tokens.length;
    expect((await browser.submit(confirm, 'form', {}, 'logout=yes')).leftTo?.href).toBe(RP_LOGOUT);

    expect(receiver.tokens.length).toBe(before + 1);
    const { payload, protectedHeader } = await jwtVerify(receiver.tokens.at(-1)!, createRemoteJWKSet(new URL(`${idp.issuer}/jwks`)), {
      issuer: idp.issuer,
      audience: webAppClient.client_id,
      typ: 'logout+jwt',
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ sub, sid, events: { 'http://schemas.openid.net/event/backchannel-logout': {} } });
    expect(payload.nonce).toBeUndefined();
  });
});
