import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { storageKeyOf } from '../../src/oidc/adapters/hashed-ids.ts';
import type { Page } from '../support/browser.ts';
import {
  backends,
  firstPartyClient,
  RP_LOGOUT,
  RP_REDIRECT,
  serviceClient,
  spaClient,
  startTestIdp,
  type TestIdp,
  testClients,
  webAppClient,
} from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';

const alice = { email: 'Alice@Example.com', password: 'correct horse battery staple' };
/** One of our own apps installed on a device (a loopback redirect): node-oidc-provider asks native apps for consent by default. */
const nativeFirstPartyClient = { ...firstPartyClient, client_id: 'first-party-native', application_type: 'native' as const };

describe.each(backends)('signing in through a relying party (%s)', (backend) => {
  let idp: TestIdp;

  beforeAll(async () => {
    idp = await startTestIdp({ backend, env: { LOG_LEVEL: 'debug' }, clients: [...testClients, nativeFirstPartyClient] });
    await idp.idp.accounts.createAccount({ ...alice, name: 'Alice Liddell', roles: ['user', 'moderator'], emailVerified: true });
  });
  afterAll(() => idp?.destroy());

  it('publishes discovery with only the code flow and S256 PKCE', async () => {
    const config = await relyingParty(idp.issuer, webAppClient);
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(idp.issuer);
    expect(metadata.response_types_supported).toEqual(['code']);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.scopes_supported).toEqual(expect.arrayContaining(['openid', 'email', 'profile', 'roles', 'offline_access']));
    for (const endpoint of ['token_endpoint', 'userinfo_endpoint', 'revocation_endpoint', 'introspection_endpoint', 'end_session_endpoint', 'jwks_uri'] as const) {
      expect(metadata[endpoint]).toMatch(new RegExp(`^${idp.issuer}/`));
    }
  });

  /** Alice signs in to the confidential client, with PKCE and consent: its configuration, the request, her browser and the tokens. */
  async function aliceAtWebApp(scope = 'openid email profile roles offline_access') {
    const config = await relyingParty(idp.issuer, webAppClient);
    const start = await startAuthorization(config, { scope, prompt: 'consent' });
    const browser = newBrowser();
    const callback = await signIn(browser, start.url, alice);
    return { config, start, browser, callback, tokens: await exchangeCode(config, callback, start) };
  }

  describe('a confidential client with PKCE and consent', () => {
    let loginPage: Page;
    let signedIn: Awaited<ReturnType<typeof aliceAtWebApp>>;

    beforeAll(async () => {
      const config = await relyingParty(idp.issuer, webAppClient);
      loginPage = await newBrowser().open((await startAuthorization(config)).url.href);
      signedIn = await aliceAtWebApp();
    });

    it('shows a login page that names the client', () => {
      expect(loginPage.status).toBe(200);
      expect(loginPage.$('h1').text()).toBe('Sign in');
      expect(loginPage.$('.lead').text()).toContain('Test Web App');
    });

    it('returns to the redirect URI with the issuer', () => {
      const { callback } = signedIn;
      expect(callback.origin + callback.pathname).toBe(RP_REDIRECT);
      expect(callback.searchParams.get('iss')).toBe(idp.issuer);
    });

    it('issues an ID token for the client, with the request\'s nonce and the person\'s id as subject', () => {
      const claims = signedIn.tokens.claims()!;
      expect(claims.iss).toBe(idp.issuer);
      expect(claims.aud).toBe(webAppClient.client_id);
      expect(claims.nonce).toBe(signedIn.start.nonce);
      expect(claims.sub).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('answers userinfo with the email, name and roles', async () => {
      const { config, tokens } = signedIn;
      const sub = tokens.claims()!.sub;
      expect(await oidc.fetchUserInfo(config, tokens.access_token, sub)).toMatchObject({
        sub,
        email: alice.email,
        email_verified: true,
        name: 'Alice Liddell',
        roles: ['moderator', 'user'],
      });
    });
  });

  it('rotates the refresh token; reusing a used one is refused and revokes the grant', async () => {
    const { config, tokens } = await aliceAtWebApp();
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.claims()?.sub).toBe(tokens.claims()!.sub);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
  });

  it('revokes a refresh token on request: it no longer refreshes', async () => {
    const { config, tokens } = await aliceAtWebApp('openid offline_access');
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
    await oidc.tokenRevocation(config, tokens.refresh_token!);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('logs each request but no secret that passed through, even at debug level', async () => {
    const { config, start, browser, callback, tokens } = await aliceAtWebApp();
    await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);

    const cookies = (await browser.jar.getCookies(idp.issuer + '/')).map((cookie) => cookie.value);
    const basicCredentials = Buffer.from(`${webAppClient.client_id}:${webAppClient.client_secret}`).toString('base64');
    const secrets = [alice.password, callback.searchParams.get('code')!, start.verifier, tokens.access_token, tokens.refresh_token!, tokens.id_token!, refreshed.access_token, refreshed.refresh_token!, webAppClient.client_secret, basicCredentials, ...cookies];
    expect(cookies.length).toBeGreaterThan(0);
    for (const secret of secrets) expect(idp.logs.raw).not.toContain(secret);
    expect(idp.logs.lines.filter((line) => line.msg === 'request').map((line) => line.route)).toEqual(
      expect.arrayContaining(['/interaction/:uid/login', '/token', '/me']),
    );
  });

  it('lets a public client sign in with PKCE and no secret', async () => {
    const config = await relyingParty(idp.issuer, spaClient);
    const start = await startAuthorization(config);
    const tokens = await exchangeCode(config, await signIn(newBrowser(), start.url, alice), start);
    expect(tokens.claims()?.aud).toBe(spaClient.client_id);
  });

  it('refuses a public client without PKCE: the relying party is told invalid_request', async () => {
    const start = await startAuthorization(await relyingParty(idp.issuer, spaClient));
    const withoutPkce = new URL(start.url);
    withoutPkce.searchParams.delete('code_challenge');
    withoutPkce.searchParams.delete('code_challenge_method');
    const result = await newBrowser().navigate(withoutPkce.href);
    expect(result.leftTo?.searchParams.get('error')).toBe('invalid_request');
    expect(result.leftTo?.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  it('skips the consent page for first-party clients', async () => {
    const config = await relyingParty(idp.issuer, firstPartyClient);
    const start = await startAuthorization(config);
    const browser = newBrowser();
    const login = await browser.open(start.url.href);
    const after = await browser.submit(login, 'form[action$="/login"]', alice);
    expect(after.leftTo, `expected a redirect to the RP, got page: ${after.page?.$('h1').text()}`).toBeDefined();
    const tokens = await exchangeCode(config, after.leftTo!, start);
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo.email).toBe(alice.email);
  });

  it('sends an app of our own on a device straight back with its code after the password, with no consent step between', async () => {
    const config = await relyingParty(idp.issuer, nativeFirstPartyClient);
    const start = await startAuthorization(config);
    const browser = newBrowser();
    const login = await browser.open(start.url.href);
    const form = new URLSearchParams({ _csrf: login.$('form[action$="/login"] input[name=_csrf]').attr('value')!, ...alice });
    const action = new URL(login.$('form[action$="/login"]').attr('action')!, login.url).href;
    const posted = await browser.fetch(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    expect(posted.status).toBe(303);
    // The authorization resumes once, and that answer is the redirect to the app: no interaction page in between.
    const resumed = await browser.fetch(new URL(posted.headers.get('location')!, action).href);
    const callback = new URL(resumed.headers.get('location')!, action);
    expect(callback.origin + callback.pathname).toBe(RP_REDIRECT);
    const tokens = await exchangeCode(config, callback, start);
    expect(tokens.claims()!.sub).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('returns access_denied to the relying party when the person cancels on the login page', async () => {
    const start = await startAuthorization(await relyingParty(idp.issuer, webAppClient));
    const browser = newBrowser();
    const login = await browser.open(start.url.href);
    const cancelled = await browser.submit(login, 'form[action$="/abort"]');
    expect(cancelled.leftTo?.searchParams.get('error')).toBe('access_denied');
    expect(cancelled.leftTo?.searchParams.get('state')).toBe(start.state);
  });

  it('returns access_denied to the relying party when the person denies on the consent page', async () => {
    const start = await startAuthorization(await relyingParty(idp.issuer, webAppClient), { prompt: 'consent' });
    const browser = newBrowser();
    const login = await browser.open(start.url.href);
    const consent = await browser.submit(login, 'form[action$="/login"]', alice);
    expect(consent.page?.$('h1').text()).toBe('Allow access?');
    expect(consent.page?.$('.scopes li').map((_i, el) => consent.page!.$(el).text()).get()).toEqual(
      expect.arrayContaining(['See your email address']),
    );
    const denied = await browser.submit(consent.page!, 'form[action$="/abort"]');
    expect(denied.leftTo?.searchParams.get('error')).toBe('access_denied');
  });

  it('does not resume a consent given in a session that ended before the authorization went on', async () => {
    const config = await relyingParty(idp.issuer, webAppClient);
    const browser = newBrowser();
    const first = await startAuthorization(config, { prompt: 'consent' });
    const { id_token } = await exchangeCode(config, await signIn(browser, first.url, alice), first);

    // Consent in that session, stopping at the IdP's answer: on to the authorization, not followed yet.
    const start = await startAuthorization(config, { prompt: 'consent' });
    const consent = await browser.open(start.url.href);
    const form = consent.$('form[action$="/confirm"]');
    const body = new URLSearchParams(form.find('input[name]').map((_i, input) => [[consent.$(input).attr('name')!, consent.$(input).attr('value') ?? '']]).get());
    const confirmed = await browser.fetch(new URL(form.attr('action')!, consent.url).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    });
    expect(confirmed.status).toBe(303);
    const resume = new URL(confirmed.headers.get('location')!, consent.url);

    // Signed out meanwhile (as from another tab): the consent given in the ended session takes no one anywhere.
    const logout = oidc.buildEndSessionUrl(config, { id_token_hint: id_token!, post_logout_redirect_uri: RP_LOGOUT });
    await browser.submit(await browser.open(logout.href), 'form', {}, 'logout=yes');
    const resumed = await browser.navigate(resume.href);
    expect(resumed.leftTo).toBeUndefined();
    expect(resumed.page?.status).toBe(400);
    expect(resumed.page?.$('h1').text()).toBe('This sign-in has expired');
    expect(resumed.page?.$('main p').first().text()).toBe('Go back to the application and start again.');
  });

  it('issues client credentials tokens to a service client', async () => {
    const config = await relyingParty(idp.issuer, serviceClient);
    const tokens = await oidc.clientCredentialsGrant(config);
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.expiresIn()).toBeGreaterThan(0);
    const introspection = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(introspection).toMatchObject({ active: true, client_id: serviceClient.client_id });

    const wrongSecret = await relyingParty(idp.issuer, { ...serviceClient, client_secret: 'not-the-secret' });
    await expect(oidc.clientCredentialsGrant(wrongSecret)).rejects.toMatchObject({
      status: 401,
      cause: [expect.objectContaining({ parameters: expect.objectContaining({ error: 'invalid_client' }) })],
    });
  });

  it('keeps one row per signed-in browser in the account index while each resumed authorization renames the session, and none after sign-out', async () => {
    const bob = { email: 'bob.index@example.com', password: 'another correct horse staple' };
    const { id: accountId } = await idp.idp.accounts.createAccount({ ...bob, name: 'Bob', emailVerified: true });
    const { db } = idp.idp.database;
    const sessionRows = () => db.selectFrom('oidc_account_index').select('id').where('account_id', '=', accountId).where('model', '=', 'Session').execute();
    const sessionCookie = async (browser: ReturnType<typeof newBrowser>) =>
      (await browser.jar.getCookies(idp.issuer)).find((cookie) => cookie.key === '_session')!.value;

    const config = await relyingParty(idp.issuer, webAppClient);
    const browser = newBrowser();
    const first = await startAuthorization(config);
    const tokens = await exchangeCode(config, await signIn(browser, first.url, bob), first);
    const ids = [await sessionCookie(browser)];
    for (let round = 0; round < 2; round += 1) {
      // The consent page again: the authorization resumes, and node-oidc-provider gives the session a new id.
      const again = await startAuthorization(config, { prompt: 'consent' });
      await exchangeCode(config, await signIn(browser, again.url, bob), again);
      ids.push(await sessionCookie(browser));
      expect(await sessionRows()).toEqual([{ id: storageKeyOf('Session', ids.at(-1)!) }]);
    }
    expect(new Set(ids).size).toBe(3);

    const logoutUrl = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: RP_LOGOUT });
    await browser.submit(await browser.open(logoutUrl.href), 'form', {}, 'logout=yes');
    expect(await sessionRows()).toEqual([]);
  });

  it('signs the person out when the relying party asks, and then asks for the password again', async () => {
    const config = await relyingParty(idp.issuer, webAppClient);
    const browser = newBrowser();
    const start = await startAuthorization(config);
    const tokens = await exchangeCode(config, await signIn(browser, start.url, alice), start);

    // Signed in: a second authorization needs no password.
    const silent = await startAuthorization(config, { prompt: 'none' });
    expect((await browser.navigate(silent.url.href)).leftTo?.searchParams.get('code')).toBeTruthy();

    const logoutUrl = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: RP_LOGOUT, state: 'bye' });
    const confirm = await browser.open(logoutUrl.href);
    expect(confirm.$('h1').text()).toContain('Sign out');
    const done = await browser.submit(confirm, 'form', {}, 'logout=yes');
    expect(done.leftTo?.href).toBe(`${RP_LOGOUT}?state=bye`);

    const afterLogout = await startAuthorization(config, { prompt: 'none' });
    expect((await browser.navigate(afterLogout.url.href)).leftTo?.searchParams.get('error')).toBe('login_required');
  });
});
