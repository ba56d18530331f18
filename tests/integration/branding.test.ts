import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { page, type Page } from '../support/browser.ts';
import { backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { newBrowser, relyingParty, startAuthorization, submitLogin } from '../support/rp.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

const backend = backends[0]!;

const brandEnv = {
  PRODUCT_NAME: 'Acme ID',
  BRAND_LOGO_URL: '/static/logo.svg',
  BRAND_LOGO_DARK_URL: 'https://cdn.acme.test/logo-dark.svg',
  BRAND_PRIMARY_COLOR: '#0f6e5c',
  BRAND_PRIVACY_URL: 'https://acme.test/privacy',
  BRAND_TERMS_URL: 'https://acme.test/terms',
  BRAND_HELP_URL: 'https://acme.test/help',
};

/** The footer's language links, by language code. */
const switcherOf = (page: Page) =>
  Object.fromEntries(page.$('footer nav.language-switcher a').toArray().map((link) => [page.$(link).attr('lang')!, { name: page.$(link).text(), href: page.$(link).attr('href')!, current: page.$(link).attr('aria-current') === 'true' }]));

describe(`a branded deployment: logo, favicon, footer, language switcher and mail (${backend})`, () => {
  let idp: TestIdp;
  let smtp: TestSmtpServer;
  let config: oidc.Configuration;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    idp = await startTestIdp({ backend, env: { SMTP_URL: smtp.url, ...brandEnv } });
    config = await relyingParty(idp.issuer, webAppClient);
  });
  afterAll(async () => {
    await idp?.destroy();
    await smtp?.close();
  });

  it('shows the logo named for the product (another in dark mode), the favicon and the footer links on the sign-in page', async () => {
    const login = await newBrowser().open((await startAuthorization(config)).url.href);
    expect(login.$('header img.product-logo').attr('src')).toBe('/static/logo.svg');
    expect(login.$('header img.product-logo').attr('alt')).toBe('Acme ID');
    expect(login.$('header picture source').attr('media')).toBe('(prefers-color-scheme: dark)');
    expect(login.$('header picture source').attr('srcset')).toBe('https://cdn.acme.test/logo-dark.svg');
    expect(login.$('link[rel="icon"]').attr('href')).toBe('/static/favicon.svg');
    const footer = login.$('footer a:not([lang])').toArray().map((link) => [login.$(link).text(), login.$(link).attr('href')]);
    expect(footer).toEqual([
      ['Privacy', 'https://acme.test/privacy'],
      ['Terms', 'https://acme.test/terms'],
      ['Help', 'https://acme.test/help'],
    ]);
    const switcher = switcherOf(login);
    expect(switcher.en).toMatchObject({ name: 'English', current: true });
    expect(switcher.de).toMatchObject({ name: 'Deutsch', current: false });
  });

  it('puts the footer, with its language switcher, under the admin console too', async () => {
    await idp.idp.accounts.createAccount({ email: 'ada@example.com', password: 'ada passphrase 123', roles: ['super_admin'], emailVerified: true });
    const browser = newBrowser();
    const users = page(await submitLogin(browser, await browser.open(`${idp.issuer}/admin`), 'ada@example.com', 'ada passphrase 123'));
    expect(users.$('h1').text()).toBe('Users');
    expect(users.$('footer a[href="https://acme.test/privacy"]').text()).toBe('Privacy');
    const german = await browser.open(new URL(switcherOf(users).de!.href, users.url).href);
    expect(german.url).toBe(`${idp.issuer}/admin`);
    expect(german.$('html').attr('lang')).toBe('de');
    expect(german.$('h1').text()).toBe('Personen');
  });

  it('serves the built-in favicon and shows the footer on the home page too', async () => {
    const icon = await fetch(`${idp.issuer}/static/favicon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toContain('image/svg+xml');
    const legacy = await fetch(`${idp.issuer}/favicon.ico`, { redirect: 'manual' });
    expect(legacy.status).toBe(302);
    expect(legacy.headers.get('location')).toBe('/static/favicon.svg');
    const home = await newBrowser().open(`${idp.issuer}/`);
    expect(home.$('link[rel="icon"]').attr('href')).toBe('/static/favicon.svg');
    expect(home.$('footer a[href="https://acme.test/privacy"]').text()).toBe('Privacy');
    expect(Object.keys(switcherOf(home))).toEqual(['en', 'de']);
  });

  it('switches to German from the footer, back on the same page, and stays German on the next pages', async () => {
    const browser = newBrowser();
    browser.acceptLanguage = 'en-US,en;q=0.9';
    const login = await browser.open((await startAuthorization(config)).url.href);
    expect(login.$('html').attr('lang')).toBe('en');

    const german = await browser.open(new URL(switcherOf(login).de!.href, login.url).href);
    expect(german.url).toBe(login.url);
    expect(german.$('html').attr('lang')).toBe('de');
    expect(german.$('h1').text()).not.toBe(login.$('h1').text());
    expect(german.$('footer a[href="https://acme.test/privacy"]').text()).toBe('Datenschutz');
    expect(switcherOf(german).de!.current).toBe(true);

    const forgot = await browser.open(`${idp.issuer}/account/forgot-password?from=footer`);
    expect(forgot.$('html').attr('lang')).toBe('de');
    // The switcher keeps the page's query when it comes back.
    const english = await browser.open(new URL(switcherOf(forgot).en!.href, forgot.url).href);
    expect(english.url).toBe(`${idp.issuer}/account/forgot-password?from=footer`);
    expect(english.$('html').attr('lang')).toBe('en');
  });

  it('after a refused sign-in form, switches back to the sign-in step, not to the form’s POST address', async () => {
    const browser = newBrowser();
    const login = await browser.open((await startAuthorization(config)).url.href);
    const refused = page(await submitLogin(browser, login, 'nobody@example.com', 'not the password at all'));
    expect(refused.$('html').attr('lang')).toBe('en');
    const german = await browser.open(new URL(switcherOf(refused).de!.href, refused.url).href);
    expect(german.status).toBe(200);
    expect(german.url).toBe(login.url);
    expect(german.$('html').attr('lang')).toBe('de');
    expect(german.$('form[action$="/login"]')).toHaveLength(1);
  });

  it('lets the language chosen in the footer win over an application’s ui_locales, which still counts without a choice', async () => {
    const browser = newBrowser();
    expect((await browser.open((await startAuthorization(config, { ui_locales: 'de' })).url.href)).$('html').attr('lang')).toBe('de');
    const signIn = await browser.open((await startAuthorization(config, { ui_locales: 'de' })).url.href);
    const english = await browser.open(new URL(switcherOf(signIn).en!.href, signIn.url).href);
    expect(english.$('html').attr('lang')).toBe('en');
    expect(english.$('form[action$="/login"]')).toHaveLength(1);
    expect((await browser.open((await startAuthorization(config, { ui_locales: 'de' })).url.href)).$('html').attr('lang')).toBe('en');
  });

  it('sends the switcher back only to a page of this server', async () => {
    for (const target of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)', '/%0d%0aSet-Cookie:x=1']) {
      const response = await fetch(`${idp.issuer}/language?locale=de&return=${encodeURIComponent(target)}`, { redirect: 'manual' });
      expect(response.status, target).toBe(303);
      const location = new URL(response.headers.get('location')!, idp.issuer);
      expect(location.origin, target).toBe(idp.issuer);
    }
    const unknown = await fetch(`${idp.issuer}/language?locale=xx&return=/`, { redirect: 'manual' });
    expect(unknown.status).toBe(303);
    expect(unknown.headers.getSetCookie()).toEqual([]);
  });

  it('puts the logo and the footer links in mail, and the chosen language', async () => {
    await idp.idp.accounts.createAccount({ email: 'lena@example.com', password: 'lena passphrase 12', emailVerified: true });
    const browser = newBrowser();
    browser.acceptLanguage = 'en';
    const form = await browser.open(`${idp.issuer}/account/forgot-password`);
    const german = await browser.open(new URL(switcherOf(form).de!.href, form.url).href);
    expect((await browser.submit(german, 'form', { email: 'lena@example.com' })).page!.status).toBe(200);

    const mail = await smtp.waitFor('lena@example.com', /./);
    expect(mail.subject).toBe('Setzen Sie Ihr Passwort zurück');
    expect(mail.html).toContain(`<img src="${idp.issuer}/static/logo.svg" alt="Acme ID"`);
    expect(mail.html).toContain('>Datenschutz</a>');
    expect(mail.html).toContain('href="https://acme.test/terms"');
    expect(mail.text).toContain('Acme ID');
    expect(mail.text).toContain('Datenschutz: https://acme.test/privacy\nNutzungsbedingungen: https://acme.test/terms\nHilfe: https://acme.test/help');
  });
});
