import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Browser } from '../support/browser.ts';
import { backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';
import { linkIn, startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

const backend = backends.at(-1)!;

/** A browser whose settings ask for these languages. */
function browserSpeaking(acceptLanguage: string): Browser {
  const browser = newBrowser();
  browser.acceptLanguage = acceptLanguage;
  return browser;
}

describe(`mail in the person's language over real SMTP (${backend})`, () => {
  let idp: TestIdp;
  let smtp: TestSmtpServer;
  let config: oidc.Configuration;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    idp = await startTestIdp({ backend, env: { SMTP_URL: smtp.url } });
    config = await relyingParty(idp.issuer, webAppClient);
  });
  afterAll(async () => {
    await idp?.destroy();
    await smtp?.close();
  });

  async function register(browser: Browser, email: string, params: Record<string, string> = {}) {
    const start = await startAuthorization(config, params);
    const login = await browser.open(start.url.href);
    const form = await browser.open(new URL(login.$('a[href$="/register"]').attr('href')!, login.url).href);
    const done = (await browser.submit(form, 'form', { email, name: '', password: 'a fresh passphrase 42', password_confirmation: 'a fresh passphrase 42' })).page!;
    expect(done.status).toBe(200);
  }

  async function forgotPassword(browser: Browser, email: string) {
    const form = await browser.open(`${idp.issuer}/account/forgot-password`);
    expect((await browser.submit(form, 'form', { email })).page!.status).toBe(200);
  }

  const setLocale = (email: string, locale: string | null) => idp.idp.database.db.updateTable('accounts').set({ locale }).where('email', '=', email).execute();

  it('sends the verification mail in German to a German-speaking browser, and in English to an English one', async () => {
    await register(browserSpeaking('de-DE,de;q=0.9,en;q=0.5'), 'anna@example.com');
    const german = await smtp.waitFor('anna@example.com', /./);
    expect(german.subject).toBe('Bestätigen Sie Ihre E-Mail-Adresse');
    expect(german.text).toContain('Öffnen Sie diesen Link');
    expect(german.html).toContain('<html lang="de">');
    expect(german.html).toContain('Meine E-Mail-Adresse bestätigen');
    expect(german.html).toMatch(/Sie erhalten diese Nachricht wegen einer Aktivität bei/);

    await register(browserSpeaking('en-US,en;q=0.9'), 'amy@example.com');
    const english = await smtp.waitFor('amy@example.com', /./);
    expect(english.subject).toBe('Confirm your email address');
    expect(english.html).toContain('<html lang="en">');
    expect(english.html).toContain('Confirm my email');
  });

  it('follows the authorization request’s ui_locales over the browser’s language', async () => {
    await register(browserSpeaking('en'), 'ulla@example.com', { ui_locales: 'de-AT en' });
    expect((await smtp.waitFor('ulla@example.com', /./)).subject).toBe('Bestätigen Sie Ihre E-Mail-Adresse');
  });

  it('sends the reset mail in the account’s stored language, whatever the browser asks for', async () => {
    await idp.idp.accounts.createAccount({ email: 'dieter@example.com', password: 'dieter passphrase 1', emailVerified: true });
    await setLocale('dieter@example.com', 'de-CH');
    await forgotPassword(browserSpeaking('en-GB'), 'dieter@example.com');
    const mail = await smtp.waitFor('dieter@example.com', /./);
    expect(mail.subject).toBe('Setzen Sie Ihr Passwort zurück');
    expect(mail.text).toContain('Öffnen Sie diesen Link, um ein neues zu wählen.');

    // A stored language we do not speak falls back to the browser's.
    await idp.idp.accounts.createAccount({ email: 'francoise@example.com', password: 'francoise passphrase 1', emailVerified: true });
    await setLocale('francoise@example.com', 'fr');
    await forgotPassword(browserSpeaking('de'), 'francoise@example.com');
    expect((await smtp.waitFor('francoise@example.com', /./)).subject).toBe('Setzen Sie Ihr Passwort zurück');
  });

  it('without a stored language, sends the reset mail in the browser’s, and the notice after the reset too', async () => {
    await idp.idp.accounts.createAccount({ email: 'greta@example.com', password: 'greta passphrase 1', emailVerified: true });
    const german = browserSpeaking('de');
    await forgotPassword(german, 'greta@example.com');
    const reset = await smtp.waitFor('greta@example.com', /./);
    expect(reset.subject).toBe('Setzen Sie Ihr Passwort zurück');
    const form = await german.open(linkIn(reset, '/account/reset-password?token='));
    await german.submit(form, 'form', { password: 'greta new passphrase', password_confirmation: 'greta new passphrase' });
    const notice = await smtp.waitFor('greta@example.com', /./);
    expect(notice.subject).toBe('Ihr Passwort wurde geändert');
    expect(notice.text).toContain('Wenn Sie das nicht waren, nutzt vielleicht jemand anderes Ihr Konto.');
    expect(notice.text).toMatch(/Wann: .* UTC/);

    await idp.idp.accounts.createAccount({ email: 'ed@example.com', password: 'ed passphrase 123', emailVerified: true });
    await forgotPassword(browserSpeaking('en-US'), 'ed@example.com');
    const english = await smtp.waitFor('ed@example.com', /./);
    expect(english.subject).toBe('Reset your password');
    expect(english.text).toContain('Open this link to choose a new one.');
  });

  it('writes the mail of the account page in the person’s language: email change, both addresses', async () => {
    await idp.idp.accounts.createAccount({ email: 'hanna@example.com', password: 'hanna passphrase 1', emailVerified: true });
    const browser = browserSpeaking('de');
    await signIn(browser, (await startAuthorization(config)).url, { email: 'hanna@example.com', password: 'hanna passphrase 1' });
    const account = await browser.open(`${idp.issuer}/account/security`);
    expect(account.$('html').attr('lang')).toBe('de');
    await browser.submit(account, 'form[action="/account/email"]', { email: 'hanna.neu@example.com' });
    expect((await smtp.waitFor('hanna.neu@example.com', /./)).subject).toBe('Bestätigen Sie Ihre neue E-Mail-Adresse');
    const notice = await smtp.waitFor('hanna@example.com', /./);
    expect(notice.subject).toBe('Ihre E-Mail-Adresse wird geändert');
    expect(notice.html).toContain('<strong>hanna.neu@example.com</strong>');
  });
});
