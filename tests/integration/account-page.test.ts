import * as oidc from 'openid-client';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Browser, type Navigation, page, type Page } from '../support/browser.ts';
import { backends, startTestIdp, type TestIdp, testClients, webAppClient } from '../support/idp.ts';
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

  const accountPage = (browser: Browser, path = '') => browser.open(`${idp.issuer}/account${path}`);
  const refreshWorks = (refreshToken: string) => oidc.refreshTokenGrant(config, refreshToken).then(() => true, () => false);

  beforeAll(async () => {
    smtp = await startSmtpServer();
    // The web app names its home page, for the header's "Back to Test Web App".
    const clients = testClients.map((client) => (client.client_id === webAppClient.client_id ? { ...client, client_uri: 'https://app.example/home' } : client));
    idp = await startTestIdp({ backend, clients, env: { SMTP_URL: smtp.url } });
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

    const saved = page(await person.browser.submit(refused, 'form[action="/account/profile"]', { name: 'Kim Example', picture: 'https://example.com/kim.png', locale: 'de', zoneinfo: 'Europe/Zurich' }));
    expect(saved.$('.notice').text()).toBe('Your profile is saved.');
    const refreshed = await oidc.refreshTokenGrant(config, person.tokens.refresh_token!);
    expect(await oidc.fetchUserInfo(config, refreshed.access_token, person.sub)).toMatchObject({
      name: 'Kim Example',
      picture: 'https://example.com/kim.png',
      locale: 'de',
      zoneinfo: 'Europe/Zurich',
    });
  });

  it('changes the password only with the current one, and on request signs out every other device', async () => {
    const person = await signedInPerson();
    const elsewhere = await signedInPerson({ email: person.email, password: person.password });
    const account = await accountPage(person.browser, '/security');

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
    const account = await accountPage(person.browser, '/security');
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
    const account = await accountPage(person.browser, '/devices');
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
    const account = await accountPage(person.browser, '/devices');
    expect(account.$('.apps').text()).toContain('Test Web App');
    const revoked = page(await person.browser.submit(account, 'form[action="/account/apps/web-app/revoke"]'));
    expect(revoked.$('.notice').text()).toBe('That app no longer has access.');
    expect(revoked.$('.apps')).toHaveLength(0);
    expect(await refreshWorks(person.tokens.refresh_token!)).toBe(false);
  });

  it('turns two-step verification on and off from the account page', async () => {
    const person = await signedInPerson();
    const setup = await person.browser.open(`${idp.issuer}/account/two-step/setup`);
    // Chosen freely: no "needs a second step", a way back, and the key in groups of four that still copies as one.
    expect(setup.$('h1').text()).toBe('Add an authenticator app');
    expect(setup.html).not.toContain('needs a second step');
    expect(setup.$('a[href="/account/security"]').text()).toBe('Cancel');
    const groups = setup.$('code.secret span').map((_i, span) => setup.$(span).text()).get();
    expect(groups.length).toBeGreaterThan(1);
    expect(groups.every((group) => group.length <= 4)).toBe(true);
    const secret = setup.$('code.secret').text();
    expect(secret).toBe(groups.join(''));
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
    const account = await accountPage(person.browser, '/delete');
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

  it('is five pages, each with the header (product, person, sign-out, back to the app) and the navigation', async () => {
    const person = await signedInPerson();
    await idp.idp.database.db.updateTable('accounts').set({ name: 'Kim Pages' }).where('id', '=', person.sub).execute();
    const pages = [
      ['', 'Your account', 'form[action="/account/profile"]'],
      ['/security', 'Security', 'form[action="/account/password"]'],
      ['/devices', 'Devices and apps', '.session'],
      ['/activity', 'Activity', '#history-title'],
      ['/delete', 'Delete account', 'form[action="/account/delete"]'],
    ] as const;
    for (const [path, heading, content] of pages) {
      const shown = await person.browser.open(`${idp.issuer}/account${path}`);
      expect(shown.status).toBe(200);
      expect(shown.$('h1').text()).toBe(heading);
      expect(shown.$(content)).not.toHaveLength(0);
      const header = shown.$('.account-header');
      expect(header.find('.account-person').text()).toBe(`Kim Pages ${person.email}`);
      expect(header.find('a.sign-out').attr('href')).toBe('/session/end');
      expect(header.find('a.back-to-app').text()).toBe('Back to Test Web App');
      expect(header.find('a.back-to-app').attr('href')).toBe('https://app.example/home');
      expect(header.find('nav a').map((_i, link) => shown.$(link).attr('href')).get()).toEqual(['/account', '/account/security', '/account/devices', '/account/activity', '/account/delete']);
      expect(header.find('nav a[aria-current="page"]').attr('href')).toBe(`/account${path}`);
    }
  });

  it('answers a refused password change with the security page, its error at the field', async () => {
    const person = await signedInPerson();
    const security = await accountPage(person.browser, '/security');
    const wrong = page(await person.browser.submit(security, 'form[action="/account/password"]', { current_password: 'not it at all', password: 'another new password 8', password_confirmation: 'another new password 8' }));
    expect(wrong.status).toBe(400);
    expect(wrong.$('h1').text()).toBe('Security');
    expect(wrong.$('nav a[aria-current="page"]').attr('href')).toBe('/account/security');
    expect(wrong.$('#current_password-error').text()).toBe('That is not your current password.');
  });

  it('offers the supported languages by their own names and refuses any other at the field', async () => {
    const person = await signedInPerson();
    const profile = await accountPage(person.browser);
    expect(profile.$('select#locale option').map((_i, option) => profile.$(option).text()).get()).toEqual(['Not set', 'English', 'Deutsch']);
    // The same languages as the footer's switcher, which this page must not break.
    expect(profile.$('.language-switcher a').map((_i, link) => profile.$(link).attr('lang')).get()).toEqual(['en', 'de']);
    const refused = page(await person.browser.submit(profile, 'form[action="/account/profile"]', { locale: 'fr' }));
    expect(refused.status).toBe(400);
    expect(refused.$('#locale-error').text()).toBe('Choose a language from the list.');
    expect(refused.$('#locale').attr('aria-invalid')).toBe('true');
    const saved = page(await person.browser.submit(refused, 'form[action="/account/profile"]', { locale: 'de' }));
    expect(saved.status).toBe(200);
    expect(saved.$('#locale option[selected]').text()).toBe('Deutsch');
  });

  it('tells sessions apart: browser and system, place, last use in the person’s zone, this device', async () => {
    const chromeOnLinux = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
    const browser = newBrowser();
    browser.userAgent = chromeOnLinux;
    const person = await signedInPerson({ browser });
    const twin = newBrowser();
    twin.userAgent = chromeOnLinux;
    await signedInPerson({ browser: twin, email: person.email, password: person.password });
    await idp.idp.database.db.updateTable('accounts').set({ zoneinfo: 'Asia/Tokyo' }).where('id', '=', person.sub).execute();

    const devices = await accountPage(person.browser, '/devices');
    const sessions = devices.$('.session');
    expect(sessions).toHaveLength(2);
    sessions.each((_i, session) => {
      expect(devices.$(session).find('strong').first().text()).toBe('Chrome on Linux');
      expect(devices.$(session).find('.session-last-used').text()).toMatch(/^Last used .+GMT\+9$/);
      expect(devices.$(session).text()).toContain('From 127.0.0.1');
    });
    expect(devices.$('.session .badge').text()).toBe('this browser');
    expect(devices.$('.apps .hint').first().text()).toMatch(/^Allowed .+GMT\+9$/);
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
