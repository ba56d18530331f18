import * as oidc from 'openid-client';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Browser, type Navigation, page, type Page } from '../support/browser.ts';
import { backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization, submitLogin } from '../support/rp.ts';
import { linkIn, startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

const backend = backends.at(-1)!;


describe(`account page (${backend})`, () => {
  let idp: TestIdp;
  let smtp: TestSmtpServer;
  let config: oidc.Configuration;
  let counter = 0;

  /** A new person signed in through the web app in a browser of their own, with a refresh token. */
  async function signedInPerson(options: { browser?: Browser; email?: string; password?: string } = {}) {
    counter += 1;
    const email = options.email ?? `kim${counter}@example.com`;
    const password = options.password ?? `kim password ${counter} long`;
    if (!options.email) await idp.idp.accounts.createAccount({ email, password, emailVerified: true });
    const browser = options.browser ?? newBrowser();
    const start = await startAuthorization(config, { scope: 'openid email profile offline_access', prompt: 'consent' });
    const tokens = await exchangeCode(config, await signIn(browser, start.url, { email, password }), start);
    return { email, password, browser, tokens, sub: tokens.claims()!.sub };
  }

  const accountPage = (browser: Browser) => browser.open(`${idp.issuer}/account`);
  const refreshWorks = (refreshToken: string) => oidc.refreshTokenGrant(config, refreshToken).then(() => true, () => false);

  beforeAll(async () => {
    smtp = await startSmtpServer();
    idp = await startTestIdp({ backend, env: { SMTP_URL: smtp.url } });
    config = await relyingParty(idp.issuer, webAppClient);
  });
  afterAll(async () => {
    await idp?.destroy();
    await smtp?.close();
  });

  it('edits the profile, refusing bad values field by field, and apps see the new claims', async () => {
    const person = await signedInPerson();
    const account = await accountPage(person.browser);
    expect(account.$('h1').text()).toBe('Your account');

    const refused = page(await person.browser.submit(account, 'form[action="/account/profile"]', { name: 'Kim Example', picture: 'not a url', zoneinfo: 'Mars/Olympus' }));
    expect(refused.status).toBe(400);
    expect(refused.$('#picture-error').text()).toContain('http or https');
    expect(refused.$('#picture').attr('aria-invalid')).toBe('true');
    expect(refused.$('#zoneinfo-error').text()).toContain('time zone');
    expect(refused.$('#name').attr('value')).toBe('Kim Example');

    const saved = page(await person.browser.submit(refused, 'form[action="/account/profile"]', { name: 'Kim Example', picture: 'https://example.com/kim.png', locale: 'de-CH', zoneinfo: 'Europe/Zurich' }));
    expect(saved.$('.notice').text()).toBe('Your profile is saved.');
    const refreshed = await oidc.refreshTokenGrant(config, person.tokens.refresh_token!);
    expect(await oidc.fetchUserInfo(config, refreshed.access_token, person.sub)).toMatchObject({
      name: 'Kim Example',
      picture: 'https://example.com/kim.png',
      locale: 'de-CH',
      zoneinfo: 'Europe/Zurich',
    });
  });

  it('changes the password only with the current one, and on request signs out every other device', async () => {
    const person = await signedInPerson();
    const elsewhere = await signedInPerson({ email: person.email, password: person.password });
    const account = await accountPage(person.browser);

    const wrong = page(await person.browser.submit(account, 'form[action="/account/password"]', { current_password: 'not it at all', password: 'a brand new password 7', password_confirmation: 'a brand new password 7' }));
    expect(wrong.status).toBe(400);
    expect(wrong.$('#current_password-error').text()).toBe('That is not your current password.');

    const changed = page(await person.browser.submit(wrong, 'form[action="/account/password"]', {
      current_password: person.password,
      password: 'a brand new password 7',
      password_confirmation: 'a brand new password 7',
      end_other_sessions: 'yes',
    }));
    expect(changed.$('.notice').text()).toContain('every other device is signed out');
    expect(await refreshWorks(elsewhere.tokens.refresh_token!)).toBe(false);
    expect((await accountPage(elsewhere.browser)).$('form[action$="/login"]').length, 'signed out: sent to sign in').toBe(1);
    expect((await accountPage(person.browser)).status).toBe(200);
    await smtp.waitFor(person.email, /password was changed/);
    await signedInPerson({ email: person.email, password: 'a brand new password 7' });
  });

  it('changes the email address through a link to the new address, telling the old one', async () => {
    const person = await signedInPerson();
    const account = await accountPage(person.browser);
    const newEmail = `new-${person.email}`;
    const sent = page(await person.browser.submit(account, 'form[action="/account/email"]', { email: newEmail }));
    expect(sent.$('.notice').text()).toContain('Check the new address');
    expect((await smtp.waitFor(person.email, /being changed/)).text).toContain(newEmail);

    const link = linkIn(await smtp.waitFor(newEmail, /Confirm your new email/), '/account/confirm-email');
    const confirmPage = await person.browser.open(link);
    expect(confirmPage.$('h1').text()).toBe('Confirm your new email address');
    const confirmed = page(await person.browser.submit(confirmPage, 'form[action="/account/confirm-email"]'));
    expect(confirmed.html).toContain(newEmail);
    // The link works once.
    expect(page(await person.browser.submit(confirmPage, 'form[action="/account/confirm-email"]')).status).toBe(400);

    const again = await signedInPerson({ email: newEmail, password: person.password });
    expect(again.tokens.claims()).toMatchObject({ sub: person.sub, email: newEmail, email_verified: true });
  });

  it('lists where the person is signed in, and ending a session kills its refresh token', async () => {
    const person = await signedInPerson();
    const phone = await signedInPerson({ email: person.email, password: person.password });
    const account = await accountPage(person.browser);
    const sessions = account.$('.session');
    expect(sessions).toHaveLength(2);
    expect(account.$('.session .badge').text()).toBe('this browser');
    expect(sessions.text()).toContain('127.0.0.1');
    expect(sessions.text()).toContain('Apps: Test Web App');

    const other = sessions.filter((_i, element) => account.$(element).find('.badge').length === 0);
    const endForm = other.find('form').attr('action')!;
    const ended = page(await person.browser.submit(account, `form[action="${endForm}"]`));
    expect(ended.$('.notice').text()).toBe('That device is signed out.');
    expect(ended.$('.session')).toHaveLength(1);
    expect(await refreshWorks(phone.tokens.refresh_token!)).toBe(false);
    expect(await refreshWorks(person.tokens.refresh_token!)).toBe(true);
    // The same handle again (or any unknown one) ends nothing.
    const csrf = ended.$('input[name="_csrf"]').first().attr('value')!;
    const again = await person.browser.navigate(`${idp.issuer}${endForm}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
    });
    expect(page(again).status).toBe(404);
  });

  it('removes an app’s access', async () => {
    const person = await signedInPerson();
    const account = await accountPage(person.browser);
    expect(account.$('.apps').text()).toContain('Test Web App');
    const revoked = page(await person.browser.submit(account, 'form[action="/account/apps/web-app/revoke"]'));
    expect(revoked.$('.notice').text()).toBe('That app no longer has access.');
    expect(revoked.$('.apps')).toHaveLength(0);
    expect(await refreshWorks(person.tokens.refresh_token!)).toBe(false);
  });

  it('turns two-step verification on and off from the account page', async () => {
    const person = await signedInPerson();
    const setup = await person.browser.open(`${idp.issuer}/account/two-step/setup`);
    const secret = setup.$('code.secret').text();
    const codes = page(await person.browser.submit(setup, 'form[action="/account/two-step/setup"]', { code: await generate({ secret }) }));
    expect(codes.$('.recovery-codes code')).toHaveLength(10);
    const on = page(await person.browser.submit(codes, 'form'));
    expect(on.$('.notice').text()).toBe('Two-step verification is on.');
    expect(on.html).toContain('10 recovery codes left');

    const off = page(await person.browser.submit(on, 'form[action="/account/two-step/remove"]'));
    expect(off.$('.notice').text()).toBe('Two-step verification is off.');
    expect(await idp.idp.secondFactors.status((await idp.idp.accounts.findActiveAccount(person.sub))!.id)).toMatchObject({ totp: false });
  });

  it('deletes the account after a recent sign-in: it is signed out everywhere and cannot sign in', async () => {
    const person = await signedInPerson();
    const account = await accountPage(person.browser);
    const deleted = page(await person.browser.submit(account, 'form[action="/account/delete"]'));
    expect(deleted.$('h1').text()).toBe('Your account is deleted');
    expect(await refreshWorks(person.tokens.refresh_token!)).toBe(false);
    const start = await startAuthorization(config);
    const fresh = newBrowser();
    const refusedSignIn = page(await submitLogin(fresh, await fresh.open(start.url.href), person.email, person.password));
    expect(refusedSignIn.status).toBe(400);
    expect(refusedSignIn.$('[role="alert"]').text()).toContain('Wrong email or password');
    const audit = await idp.idp.database.db.selectFrom('audit_events').select('action').where('target_id', '=', person.sub).execute();
    expect(audit.map((row) => row.action)).toContain('account.delete');
  });

  it('sends a signed-out visitor to sign in', async () => {
    const visitor = await newBrowser().open(`${idp.issuer}/account`);
    expect(visitor.$('form[action$="/login"]').length).toBe(1);
  });

  it('reads the browser’s session without ever setting a session cookie', async () => {
    const name = idp.idp.provider.cookieName('session');
    const sessionCookiesSetBy = (response: Response) => response.headers.getSetCookie().filter((cookie) => cookie.startsWith(`${name}=`));
    const visitor = await newBrowser().fetch(`${idp.issuer}/account`);
    expect(visitor.status, 'signed out: sent to sign in').toBe(303);
    expect(sessionCookiesSetBy(visitor)).toEqual([]);

    const person = await signedInPerson();
    const signedIn = await person.browser.fetch(`${idp.issuer}/account`);
    expect(signedIn.status).toBe(200);
    expect(sessionCookiesSetBy(signedIn)).toEqual([]);

    const sessionId = (await person.browser.jar.getCookies(idp.issuer)).find((cookie) => cookie.key === name)!.value;
    await (await idp.idp.provider.Session.find(sessionId))!.destroy();
    const ended = await person.browser.fetch(`${idp.issuer}/account`);
    expect(ended.status, 'signed out: sent to sign in').toBe(303);
    expect(sessionCookiesSetBy(ended)).toEqual([]);
  });
});
