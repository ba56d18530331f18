import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Browser, type Page } from '../support/browser.ts';
import { type FakeGoogle, startFakeGoogle } from '../support/fake-google.ts';
import { adminCliClient, backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization, submitLogin } from '../support/rp.ts';
import { linkIn, startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

/** The most production-like stack available: Postgres and Redis in CI, PGlite on a bare machine. */
const backend = backends.at(-1)!;

async function withGoogle(env: Record<string, string> = {}) {
  const google = await startFakeGoogle();
  const smtp = await startSmtpServer();
  const idp = await startTestIdp({
    backend,
    env: { SMTP_URL: smtp.url, GOOGLE_CLIENT_ID: google.clientId, GOOGLE_CLIENT_SECRET: google.clientSecret, GOOGLE_ISSUER: google.issuer, ...env },
  });
  google.register(`${idp.issuer}/interaction/callback/google`);
  return { google, smtp, idp };
}

/** Opens an RP's authorization in a browser and presses "Continue with Google"; returns where that ended. */
async function continueWithGoogle(idp: TestIdp, browser: Browser = newBrowser(), params: Record<string, string> = {}) {
  const config = await relyingParty(idp.issuer, webAppClient);
  const start = await startAuthorization(config, params);
  const login = await browser.open(start.url.href);
  expect(login.$('button:contains("Continue with Google")').length).toBe(1);
  const result = await browser.submit(login, 'form[action$="/google"]');
  return { config, start, browser, login, result };
}

async function accountsWithEmail(idp: TestIdp, email: string) {
  return idp.idp.database.db.selectFrom('accounts').selectAll().where('email', 'ilike', email).execute();
}

describe(`Google federation (${backend})`, () => {
  let google: FakeGoogle;
  let smtp: TestSmtpServer;
  let idp: TestIdp;

  beforeAll(async () => {
    ({ google, smtp, idp } = await withGoogle());
  });
  afterAll(async () => {
    await idp?.destroy();
    await smtp?.close();
    await google?.stop().catch(() => {});
  });

  it('signs a new person in from an RP through Google, creating a verified account', async () => {
    google.addAccount('g-100', { email: 'sam@gmail.test', email_verified: true, name: 'Sam Gee', given_name: 'Sam', family_name: 'Gee', picture: 'https://photos.test/sam.png' });
    google.signInAs('g-100');
    const { config, start, browser, result } = await continueWithGoogle(idp);
    const consent = result.page!;
    expect(consent.$('h1').text()).toBe('Allow access?');
    const tokens = await exchangeCode(config, (await browser.submit(consent, 'form[action$="/confirm"]')).leftTo!, start);
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo).toMatchObject({ email: 'sam@gmail.test', email_verified: true, name: 'Sam Gee', given_name: 'Sam', picture: 'https://photos.test/sam.png' });

    const [account] = await accountsWithEmail(idp, 'sam@gmail.test');
    expect(account!.password_hash).toBeNull();
    const history = await idp.idp.database.db.selectFrom('login_history').selectAll().where('account_id', '=', account!.id).execute();
    expect(history).toMatchObject([{ outcome: 'success', method: 'google' }]);

    // Next time, the known Google identity signs the same account in.
    google.signInAs('g-100');
    const again = await continueWithGoogle(idp, newBrowser(), { scope: 'openid email profile' });
    const again2 = await exchangeCode(again.config, (await again.browser.submit(again.result.page!, 'form[action$="/confirm"]')).leftTo!, again.start);
    expect(again2.claims()!.sub).toBe(tokens.claims()!.sub);
    expect(await accountsWithEmail(idp, 'sam@gmail.test')).toHaveLength(1);
  });

  it('links to a verified local account with the same Google-verified email, and tells its owner', async () => {
    const local = await idp.idp.accounts.createAccount({ email: 'tess@example.com', password: 'tess passphrase 1', emailVerified: true });
    google.addAccount('g-200', { email: 'Tess@Example.com', email_verified: true, name: 'Tess' });
    google.signInAs('g-200');
    const { config, start, browser, result } = await continueWithGoogle(idp);
    const tokens = await exchangeCode(config, (await browser.submit(result.page!, 'form[action$="/confirm"]')).leftTo!, start);
    expect(tokens.claims()!.sub).toBe(local.id);
    const notice = await smtp.waitFor('tess@example.com', /Google was linked to your account/);
    expect(notice.text).toContain('/account');
  });

  it('asks for the password once before linking to a local account whose email is not verified', async () => {
    const local = await idp.idp.accounts.createAccount({ email: 'uma@example.com', password: 'uma passphrase 1' });
    google.addAccount('g-300', { email: 'uma@example.com', email_verified: true });
    google.signInAs('g-300');
    const { config, start, browser, result } = await continueWithGoogle(idp);
    const ask = result.page!;
    expect(ask.status).toBe(409);
    expect(ask.$('[role=alert]').text()).toContain('Sign in with its password once to link Google');
    expect(ask.$('#email').val()).toBe('uma@example.com');
    expect(await idp.idp.database.db.selectFrom('federated_identities').selectAll().where('account_id', '=', local.id).execute()).toEqual([]);

    const consent = (await submitLogin(browser, ask, 'uma@example.com', 'uma passphrase 1')).page!;
    const tokens = await exchangeCode(config, (await browser.submit(consent, 'form[action$="/confirm"]')).leftTo!, start);
    expect(tokens.claims()!.sub).toBe(local.id);
    const [account] = await accountsWithEmail(idp, 'uma@example.com');
    expect(account!.email_verified).toBe(true);

    google.signInAs('g-300');
    const direct = await continueWithGoogle(idp);
    expect(direct.result.page?.$('h1').text()).toBe('Allow access?');
  });

  it('asks for the password before linking to an account whose address an admin set as verified, until its owner proves it', async () => {
    await idp.idp.accounts.createAccount({ email: 'root@example.com', password: 'root passphrase 1', roles: ['super_admin'], emailVerified: true });
    const api = `${idp.issuer}/admin/api`;
    const cliRedirect = 'http://127.0.0.1:53682/callback';
    const cli = await relyingParty(idp.issuer, adminCliClient);
    const cliStart = await startAuthorization(cli, { redirect_uri: cliRedirect, scope: 'openid admin', resource: api });
    const cliCallback = await signIn(new Browser([cliRedirect]), cliStart.url, { email: 'root@example.com', password: 'root passphrase 1' });
    const token = (await oidc.authorizationCodeGrant(cli, cliCallback, { pkceCodeVerifier: cliStart.verifier, expectedState: cliStart.state, expectedNonce: cliStart.nonce })).access_token;
    const created = await fetch(`${api}/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'olga@example.com', password: 'olga passphrase 1', email_verified: true }),
    });
    expect(created.status).toBe(201);
    const local = (await created.json()) as { id: string; email_verified: boolean };
    expect(local.email_verified).toBe(true);

    google.addAccount('g-350', { email: 'olga@example.com', email_verified: true });
    google.signInAs('g-350');
    const ask = (await continueWithGoogle(idp)).result.page!;
    expect(ask.status).toBe(409);
    expect(ask.$('[role=alert]').text()).toContain('Sign in with its password once to link Google');
    expect(await idp.idp.database.db.selectFrom('federated_identities').selectAll().where('account_id', '=', local.id).execute()).toEqual([]);

    // The owner proves the address with a mailed link; from then on Google links by itself.
    const owner = newBrowser();
    await owner.submit(await owner.open(`${idp.issuer}/account/forgot-password`), 'form', { email: 'olga@example.com' });
    const reset = await owner.open(linkIn(await smtp.waitFor('olga@example.com', /Reset your password/), '/account/reset-password?token='));
    await owner.submit(reset, 'form', { password: 'olga own passphrase', password_confirmation: 'olga own passphrase' });
    google.signInAs('g-350');
    const linked = await continueWithGoogle(idp);
    expect(linked.result.page?.$('h1').text()).toBe('Allow access?');
    const tokens = await exchangeCode(linked.config, (await linked.browser.submit(linked.result.page!, 'form[action$="/confirm"]')).leftTo!, linked.start);
    expect(tokens.claims()!.sub).toBe(local.id);
  });

  it('refuses a Google account whose email Google has not verified, creating nothing', async () => {
    google.addAccount('g-400', { email: 'vic@gmail.test', email_verified: false });
    google.signInAs('g-400');
    const { result } = await continueWithGoogle(idp);
    expect(result.page?.status).toBe(403);
    expect(result.page?.$('[role=alert]').text()).toContain('Google has not confirmed the email address');
    expect(await accountsWithEmail(idp, 'vic@gmail.test')).toEqual([]);
    expect(idp.logs.lines.some((line) => line.msg === 'upstream sign-in refused' && line.requestId)).toBe(true);
  });

  it('returns to the sign-in page when the person cancels at Google', async () => {
    google.denyNext();
    const { result } = await continueWithGoogle(idp);
    expect(result.page?.status).toBe(400);
    expect(result.page?.$('h1').text()).toBe('Sign in');
    expect(result.page?.$('[role=alert]').text()).toBe('Google sign-in was cancelled.');
  });

  it.each([
    ['a wrong nonce', /"nonce"/, (claims: Record<string, unknown>) => ({ ...claims, nonce: 'not-the-nonce' })],
    ['a wrong audience', /"aud"/, (claims: Record<string, unknown>) => ({ ...claims, aud: 'someone-else' })],
    ['a wrong issuer', /"iss"/, (claims: Record<string, unknown>) => ({ ...claims, iss: 'https://evil.test' })],
    ['an expired token', /"exp"/, (claims: Record<string, unknown>) => ({ ...claims, iat: 1_000_000, exp: 1_000_600 })],
  ])('refuses an ID token with %s, creating nothing', async (_what, reason, rewrite) => {
    google.addAccount('g-500', { email: 'wes@gmail.test', email_verified: true });
    google.signInAs('g-500');
    google.tamperIdTokens(rewrite);
    try {
      const { result } = await continueWithGoogle(idp);
      expect(result.page?.status).toBe(400);
      expect(result.page?.$('[role=alert]').text()).toBe('Google sign-in failed. Try again, or use your password.');
      const requestId = result.page!.headers.get('x-request-id');
      expect(idp.logs.forRequest(requestId).find((line) => line.msg === 'upstream sign-in refused')?.reason).toMatch(reason);
    } finally {
      google.tamperIdTokens(undefined);
    }
    expect(await accountsWithEmail(idp, 'wes@gmail.test')).toEqual([]);
  });

  it('refuses a tampered state and a callback nobody started', async () => {
    google.addAccount('g-600', { email: 'xena@gmail.test', email_verified: true });
    google.signInAs('g-600');
    const browser = newBrowser();
    const config = await relyingParty(idp.issuer, webAppClient);
    const login = await browser.open((await startAuthorization(config)).url.href);
    // Follow the redirects by hand to change the state Google sends back.
    const toGoogle = await browser.fetch(new URL(login.$('form[action$="/google"]').attr('action')!, login.url).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: String(login.$('form[action$="/google"] input[name=_csrf]').val()) }).toString(),
    });
    const googleAuth = toGoogle.headers.get('location')!;
    let response = await browser.fetch(googleAuth);
    while (!response.headers.get('location')!.includes('/interaction/callback/google')) {
      response = await browser.fetch(new URL(response.headers.get('location')!, googleAuth).href);
    }
    const callback = new URL(response.headers.get('location')!);
    callback.searchParams.set('state', 'tampered-state');
    const tampered = await browser.open(callback.href);
    expect(tampered.status).toBe(400);
    expect(tampered.$('[role=alert]').text()).toBe('Google sign-in failed. Try again, or use your password.');

    const stranger = await newBrowser().open(callback.href);
    expect(stranger.status).toBe(400);
    expect(stranger.$('h1').text()).toBe('This Google sign-in has expired');
    expect(await accountsWithEmail(idp, 'xena@gmail.test')).toEqual([]);
  });

  it('lets a signed-in person link and unlink Google on the account page, but not unlink the only way in', async () => {
    await idp.idp.accounts.createAccount({ email: 'yuri@example.com', password: 'yuri passphrase 1', emailVerified: true });
    const browser = newBrowser();
    const config = await relyingParty(idp.issuer, webAppClient);
    await signIn(browser, (await startAuthorization(config)).url, { email: 'yuri@example.com', password: 'yuri passphrase 1' });

    let page: Page = await browser.open(`${idp.issuer}/account/security`);
    expect(page.$('h1').text()).toBe('Security');
    expect(page.$('.methods').text()).toContain('not linked');
    google.addAccount('g-700', { email: 'yuri.personal@gmail.test', email_verified: true });
    google.signInAs('g-700');
    page = (await browser.submit(page, 'form[action="/account/google/link"]')).page!;
    expect(page.$('[role=status]').text()).toBe('Google is now linked: you can use it to sign in.');
    expect(page.$('.google-email').text()).toBe('yuri.personal@gmail.test');
    expect((await smtp.waitFor('yuri@example.com', /^Google was linked to your account$/)).text).toContain('A Google account was linked to your account');
    page = (await browser.submit(page, 'form[action="/account/google/unlink"]')).page!;
    expect(page.$('[role=status]').text()).toBe('Google is no longer linked to your account.');
    const unlinked = await smtp.waitFor('yuri@example.com', /^Google was unlinked from your account$/);
    expect(unlinked.text).toMatch(/When: .* UTC\nFrom: an unknown device at IP address 127\.0\.0\.1/);
    await idp.idp.mailer.drain();
    expect(smtp.to('yuri@example.com')).toEqual([]);

    // Sam has no password: Google is the only way in.
    google.signInAs('g-100');
    const sam = newBrowser();
    const samStart = await continueWithGoogle(idp, sam);
    await sam.submit(samStart.result.page!, 'form[action$="/confirm"]');
    const samPage = await sam.open(`${idp.issuer}/account/security`);
    const refused = (await sam.submit(samPage, 'form[action="/account/google/unlink"]')).page!;
    expect(refused.status).toBe(409);
    expect(refused.$('[role=alert]').text()).toContain('the only way you sign in');

    expect((await newBrowser().open(`${idp.issuer}/account`)).$('form[action$="/login"]').length, 'signed out: sent to sign in').toBe(1);
  });

  it('shows a readable page when Google is unreachable', async () => {
    const offline = await withGoogle();
    try {
      await offline.google.stop();
      const { result } = await continueWithGoogle(offline.idp);
      expect(result.page?.status).toBe(424);
      expect(result.page?.$('[role=alert]').text()).toContain('Google sign-in is unavailable right now');
    } finally {
      await offline.idp.destroy();
      await offline.smtp.close();
    }
  });
});

describe(`Google federation with closed registration and a Workspace domain (${backend})`, () => {
  let google: FakeGoogle;
  let smtp: TestSmtpServer;
  let idp: TestIdp;

  beforeAll(async () => {
    ({ google, smtp, idp } = await withGoogle({ REGISTRATION: 'closed', GOOGLE_HOSTED_DOMAIN: 'example.com' }));
  });
  afterAll(async () => {
    await idp?.destroy();
    await smtp?.close();
    await google?.stop().catch(() => {});
  });

  it('refuses an account of another Workspace domain', async () => {
    google.addAccount('g-800', { email: 'zed@other.test', email_verified: true, hd: 'other.test' });
    google.signInAs('g-800');
    const { result } = await continueWithGoogle(idp);
    expect(result.page?.status).toBe(403);
    expect(result.page?.$('[role=alert]').text()).toContain('Only accounts of the organisation');
  });

  it('creates no account from Google when registration is closed', async () => {
    google.addAccount('g-900', { email: 'ann@example.com', email_verified: true, hd: 'example.com' });
    google.signInAs('g-900');
    const { result } = await continueWithGoogle(idp);
    expect(result.page?.status).toBe(403);
    expect(result.page?.$('[role=alert]').text()).toContain('new accounts are created by an administrator');
    expect(await accountsWithEmail(idp, 'ann@example.com')).toEqual([]);
  });
});
