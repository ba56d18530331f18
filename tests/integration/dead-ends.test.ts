import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization, submitLogin } from '../support/rp.ts';

const alice = { email: 'alice@example.com', password: 'correct horse battery staple' };
const bob = { email: 'bob@example.com', password: 'another horse battery staple' };
const admin = { email: 'admin@example.com', password: 'the admin horse battery staple' };
const carol = { email: 'carol@example.com', password: 'carol has two steps 12' };

describe.each(backends)('no dead ends for a person signed out or in the wrong account (%s)', (backend) => {
  let idp: TestIdp;
  let bobId: string;

  beforeAll(async () => {
    idp = await startTestIdp({ backend });
    await idp.idp.accounts.createAccount({ ...alice, emailVerified: true });
    bobId = (await idp.idp.accounts.createAccount({ ...bob, emailVerified: true })).id;
    await idp.idp.accounts.createAccount({ ...admin, roles: ['admin'], emailVerified: true });
    const carolId = (await idp.idp.accounts.createAccount({ ...carol, emailVerified: true })).id;
    const enrollment = await idp.idp.secondFactors.startTotp(carolId, 'carol');
    await idp.idp.secondFactors.confirmTotp(carolId, await idp.idp.secondFactors.currentCode(enrollment.secret), null);
  });
  afterAll(() => idp?.destroy());

  it('consent "Not you?" signs this browser out and continues the same request with another account', async () => {
    const config = await relyingParty(idp.issuer, webAppClient);
    const browser = newBrowser();
    // Alice has used the app in this browser before: the new request's interaction names her grant.
    await signIn(browser, (await startAuthorization(config)).url, alice);

    const start = await startAuthorization(config, { prompt: 'consent' });
    const consent = await browser.open(start.url.href);
    expect(consent.$('.signed-in-as').text()).toBe(`Signed in as ${alice.email}`);
    expect(consent.$('form.not-you button').text()).toBe('Not you? Use another account');

    const login = await browser.submit(consent, 'form.not-you');
    expect(login.page?.$('form[action$="/login"]').length, login.page?.$('h1').text()).toBe(1);
    expect(login.page?.url).toBe(consent.url);

    // Signed out: the account page no longer knows Alice.
    const account = await browser.fetch(`${idp.issuer}/account`);
    expect(await account.text()).not.toContain(alice.email);

    const bobsConsent = await submitLogin(browser, login.page!, bob.email, bob.password);
    expect(bobsConsent.page?.$('.signed-in-as').text()).toBe(`Signed in as ${bob.email}`);
    const callback = await browser.submit(bobsConsent.page!, 'form[action$="/confirm"]');
    expect(callback.leftTo?.searchParams.get('state')).toBe(start.state);
    const tokens = await exchangeCode(config, callback.leftTo!, start);
    expect(tokens.claims()?.sub).toBe(bobId);
  });

  it('the second-factor page offers another account too, and the app gets that account', async () => {
    const config = await relyingParty(idp.issuer, webAppClient);
    const browser = newBrowser();
    const start = await startAuthorization(config);
    const second = (await submitLogin(browser, await browser.open(start.url.href), carol.email, carol.password)).page!;
    expect(second.$('form[action$="/second-factor"]').length).toBe(1);
    expect(second.$('form[action$="/switch-account"] button').text()).toBe('Not you? Use another account');

    const login = (await browser.submit(second, 'form[action$="/switch-account"]')).page!;
    expect(login.$('form[action$="/login"]').length).toBe(1);
    // The password Carol proved no longer opens her second step.
    expect((await browser.open(`${login.url}/second-factor`)).status).toBe(400);
    const consent = (await submitLogin(browser, login, bob.email, bob.password)).page!;
    expect(consent.$('.signed-in-as strong').text()).toBe(bob.email);
    const callback = await browser.submit(consent, 'form[action$="/confirm"]');
    expect((await exchangeCode(config, callback.leftTo!, start)).claims()?.sub).toBe(bobId);
  });

  it('/account signed out starts a sign-in through the built-in account client and comes back to the page asked for', async () => {
    const browser = newBrowser();
    const started = await browser.fetch(`${idp.issuer}/account?reauthenticated=1`);
    expect(started.status).toBe(303);
    const authorization = new URL(started.headers.get('location')!);
    expect(authorization.pathname).toBe('/auth');
    expect(authorization.searchParams.get('client_id')).toBe('account');

    const login = await browser.open(authorization.href);
    expect(login.$('form[action$="/login"]').length).toBe(1);
    const back = await submitLogin(browser, login, alice.email, alice.password);
    expect(back.page?.url).toBe(`${idp.issuer}/account?reauthenticated=1`);
    expect(back.page?.status).toBe(200);
    expect(back.page?.html).toContain(alice.email);
    // No consent for our own pages; the account page works as before.
    expect((await browser.open(`${idp.issuer}/account`)).html).toContain(alice.email);
  });

  it('returns only to a path of the account pages, and keeps the JSON account API a 401', async () => {
    for (const target of ['https://evil.example/account', '//evil.example/account', '/admin', '/account/../admin', '/account/api/me']) {
      const browser = newBrowser();
      const started = await browser.fetch(`${idp.issuer}/account/sign-in?return=${encodeURIComponent(target)}`);
      expect(started.status).toBe(303);
      const back = await submitLogin(browser, await browser.open(started.headers.get('location')!), alice.email, alice.password);
      expect(back.page?.url, target).toBe(`${idp.issuer}/account`);
    }
    const api = await newBrowser().fetch(`${idp.issuer}/account/api/me`, { headers: { accept: 'application/json' } });
    expect(api.status).toBe(401);
  });

  it('refuses a callback that this browser did not start', async () => {
    const stray = await newBrowser().open(`${idp.issuer}/account/callback?code=x&state=y`);
    expect(stray.status).toBe(400);
  });

  it('"Not allowed" in the admin console offers another account, signing out, and the account page', async () => {
    const browser = newBrowser();
    const refused = (await submitLogin(browser, await browser.open(`${idp.issuer}/admin`), alice.email, alice.password)).page!;
    expect(refused.status).toBe(403);
    expect(refused.$('h1').text()).toBe('Not allowed');
    expect(refused.$('.signed-in-as').text()).toBe(`Signed in as ${alice.email}`);
    expect(refused.$('a[href="/account"]').text()).toBe('Go to your account');

    const login = (await browser.submit(refused, 'form[action="/admin/switch-account"]')).page!;
    expect(login.$('form[action$="/login"]').length, 'the IdP asks who signs in').toBe(1);
    const console = (await submitLogin(browser, login, admin.email, admin.password)).page!;
    expect(console.status).toBe(200);
    expect(console.$('h1').text()).toBe('Users');

    const other = newBrowser();
    const refusedAgain = (await submitLogin(other, await other.open(`${idp.issuer}/admin`), bob.email, bob.password)).page!;
    const home = (await other.submit(refusedAgain, 'form[action="/admin/sign-out"]')).page!;
    expect(home.url).toBe(`${idp.issuer}/`);
    // Signed out of the IdP too: the account page asks to sign in.
    expect((await other.open(`${idp.issuer}/account`)).$('form[action$="/login"]').length).toBe(1);
  });
});
