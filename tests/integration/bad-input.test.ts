import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Page } from '../support/browser.ts';
import { backends, RP_REDIRECT, spaClient, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { newBrowser, relyingParty, startAuthorization, submitLogin } from '../support/rp.ts';

const bob = { email: 'bob@example.com', password: 'a long and secret password' };

describe.each(backends)('bad input gets a clear answer and a logged request id (%s)', (backend) => {
  let idp: TestIdp;

  beforeAll(async () => {
    idp = await startTestIdp({ backend });
    await idp.idp.accounts.createAccount({ ...bob, emailVerified: true });
  });
  afterAll(() => idp?.destroy());

  async function loginPage() {
    const config = await relyingParty(idp.issuer, webAppClient);
    const browser = newBrowser();
    const page = await browser.open((await startAuthorization(config)).url.href);
    expect(page.$('h1').text()).toBe('Sign in');
    return { browser, page };
  }

  function expectLoggedWithRequestId(page: Page) {
    const requestId = page.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const lines = idp.logs.forRequest(requestId);
    expect(lines.find((line) => line.msg === 'request')).toMatchObject({ status: page.status });
    return lines;
  }

  function expectNoStackTrace(page: Page) {
    expect(page.html).not.toMatch(/\bat .+\.(ts|js):\d+/);
    expect(page.html).not.toContain('Error:');
  }

  it('shows the same message for a wrong password and an unknown email', async () => {
    const { browser, page } = await loginPage();
    const wrongPassword = (await submitLogin(browser, page, bob.email, 'not the password')).page!;
    const unknownEmail = (await submitLogin(browser, wrongPassword, 'nobody@example.com', 'not the password')).page!;

    for (const result of [wrongPassword, unknownEmail]) {
      expect(result.status).toBe(400);
      expect(result.$('[role=alert]').text()).toBe('Wrong email or password.');
      expectLoggedWithRequestId(result);
    }
    // What the person typed is kept, except the password.
    expect(wrongPassword.$('#email').val()).toBe(bob.email);
    expect(unknownEmail.$('#email').val()).toBe('nobody@example.com');
    expect(unknownEmail.$('#password').val()).toBeUndefined();
    // and the sign-in still works afterwards
    expect((await submitLogin(browser, unknownEmail, bob.email, bob.password)).page?.$('h1').text()).toBe('Allow access?');
  });

  it('explains empty and malformed fields', async () => {
    const { browser, page } = await loginPage();
    const empty = (await submitLogin(browser, page, '', '')).page!;
    expect(empty.status).toBe(400);
    expect(empty.$('#email-error').text()).toBe('Enter your email address.');
    expect(empty.$('#password-error').text()).toBe('Enter your password.');
    expect(empty.$('#email').attr('aria-invalid')).toBe('true');

    const malformed = (await submitLogin(browser, empty, 'not-an-email', 'x')).page!;
    expect(malformed.status).toBe(400);
    expect(malformed.$('#email-error').text()).toBe('Enter a valid email address.');
    expect(malformed.$('#email').val()).toBe('not-an-email');
    expectLoggedWithRequestId(malformed);
  });

  it('refuses oversized fields and bodies with a readable page', async () => {
    const { browser, page } = await loginPage();
    const longPassword = (await submitLogin(browser, page, bob.email, 'x'.repeat(300))).page!;
    expect(longPassword.status).toBe(400);
    expect(longPassword.$('#password-error').text()).toBe('A password has at most 256 characters.');

    const huge = (await submitLogin(browser, longPassword, bob.email, 'x'.repeat(20_000))).page!;
    expect(huge.status).toBe(413);
    expect(huge.$('h1').text()).toBe('Too much data');
    expectNoStackTrace(huge);
    expectLoggedWithRequestId(huge);
  });

  it('escapes what the person typed when showing it back', async () => {
    const { browser, page } = await loginPage();
    const attack = '"><script>alert(1)</script>@example.com';
    const shown = (await submitLogin(browser, page, attack, 'whatever')).page!;
    expect(shown.status).toBe(400);
    expect(shown.html).not.toContain('<script>alert(1)</script>');
    expect(shown.$('script').length).toBe(0);
    expect(shown.$('#email').val()).toBe(attack);
  });

  it('refuses a form posted without its CSRF token', async () => {
    const { browser, page } = await loginPage();
    const forged = (await browser.submit(page, 'form[action$="/login"]', { ...bob, _csrf: 'forged' })).page!;
    expect(forged.status).toBe(403);
    expect(forged.$('h1').text()).toBe('This form has expired');
    expectLoggedWithRequestId(forged);
  });

  it('answers a tampered or expired interaction with a readable page', async () => {
    const { browser, page } = await loginPage();
    const tampered = await browser.open(page.url.replace(/interaction\/[^/]+/, 'interaction/not-a-real-uid'));
    expect(tampered.status).toBe(400);
    expect(tampered.$('h1').text()).toBe('This sign-in has expired');
    expectNoStackTrace(tampered);
    expectLoggedWithRequestId(tampered);

    // Let the interaction expire in whichever store holds it.
    const uid = new URL(page.url).pathname.split('/')[2]!;
    const interaction = await idp.idp.provider.Interaction.find(uid);
    await interaction!.save(1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const expired = (await submitLogin(browser, page, bob.email, bob.password)).page!;
    expect(expired.status).toBe(400);
    expect(expired.$('h1').text()).toBe('This sign-in has expired');
  });

  it('shows a readable error page for an unknown client or a redirect_uri it did not register', async () => {
    const config = await relyingParty(idp.issuer, webAppClient);
    const { url } = await startAuthorization(config);

    const unknownClient = new URL(url);
    unknownClient.searchParams.set('client_id', 'no-such-client');
    const badRedirect = new URL(url);
    badRedirect.searchParams.set('redirect_uri', 'https://attacker.example/callback');

    for (const [target, error] of [[unknownClient, 'invalid_client'], [badRedirect, 'invalid_redirect_uri']] as const) {
      const result = await newBrowser().navigate(target.href);
      expect(result.leftTo, 'must not redirect anywhere').toBeUndefined();
      const page = result.page!;
      expect(page.status).toBe(400);
      expect(page.$('h1').text()).toBe('Sign-in could not continue');
      expect(page.$('details code').text()).toBe(error);
      expectNoStackTrace(page);
      const lines = expectLoggedWithRequestId(page);
      expect(lines.find((line) => line.msg === 'oidc request refused')).toMatchObject({ error });
    }
  });

  it('tells a disabled account so only after the right password', async () => {
    const carol = await idp.idp.accounts.createAccount({ email: 'carol@example.com', password: 'carol password 123', emailVerified: true });
    await idp.idp.database.db.updateTable('accounts').set({ status: 'disabled' }).where('id', '=', carol.id).execute();
    const { browser, page } = await loginPage();
    const wrong = (await submitLogin(browser, page, 'carol@example.com', 'not it at all')).page!;
    expect(wrong.$('[role=alert]').text()).toBe('Wrong email or password.');
    const right = (await submitLogin(browser, wrong, 'carol@example.com', 'carol password 123')).page!;
    expect(right.status).toBe(403);
    expect(right.$('[role=alert]').text()).toContain('This account is disabled');
  });

  it('answers an unknown path with a 404 page and a bad token request with an OAuth error', async () => {
    const notFound = await newBrowser().open(`${idp.issuer}/no/such/page`);
    expect(notFound.status).toBe(404);
    expect(notFound.$('h1').text()).toBe('Page not found');
    const notFoundJson = await fetch(`${idp.issuer}/no/such/page`, { headers: { accept: 'application/json' } });
    expect(notFoundJson.status).toBe(404);
    expect(await notFoundJson.json()).toMatchObject({ error: 'not_found' });
    const token = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'bogus', redirect_uri: RP_REDIRECT, client_id: spaClient.client_id }),
    });
    expect(token.status).toBe(400);
    expect(await token.json()).toMatchObject({ error: 'invalid_grant' });
  });
});
