import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Browser, comparableHtml } from '../support/browser.ts';
import { backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization, submitLogin } from '../support/rp.ts';
import { linkIn, startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { pairedTimingGap, passwordCheckMs, timeOf } from '../support/timing.ts';

describe.each(backends)('registration, verification and password reset over real SMTP (%s)', (backend) => {
  let idp: TestIdp;
  let smtp: TestSmtpServer;
  const webApp = () => relyingParty(idp.issuer, webAppClient);

  beforeAll(async () => {
    smtp = await startSmtpServer();
    idp = await startTestIdp({ backend, env: { SMTP_URL: smtp.url, MAIL_FROM: 'Test IdP <idp@example.test>', RATE_LIMIT_IP_FORMS: '200' } });
  });
  afterAll(async () => {
    await idp?.destroy();
    await smtp?.close();
  });

  async function loginPageFor(browser: Browser, params: Record<string, string> = {}) {
    const config = await webApp();
    const start = await startAuthorization(config, params);
    return { config, start, page: await browser.open(start.url.href) };
  }

  async function countAccounts(email: string) {
    const rows = await idp.idp.database.db.selectFrom('accounts').select('id').where('email', 'ilike', email).execute();
    return rows.length;
  }

  it('registers from the login page, verifies the email from the mail, and returns to the app signed in', async () => {
    const browser = newBrowser();
    const { config, start, page } = await loginPageFor(browser);
    const register = await browser.open(new URL(page.$('a:contains("Create an account")').attr('href')!, page.url).href);
    expect(register.$('h1').text()).toBe('Create an account');

    const done = (await browser.submit(register, 'form', {
      email: 'Jane@Example.com',
      name: 'Jane Doe',
      password: 'a fresh passphrase 42',
      password_confirmation: 'a fresh passphrase 42',
    })).page!;
    expect(done.status).toBe(200);
    expect(done.$('h1').text()).toBe('Almost done: confirm your email');

    const mail = await smtp.waitFor('jane@example.com', /Confirm your email address/);
    expect(mail.html).toContain('Confirm my email');
    const link = linkIn(mail, '/account/verify-email?token=');
    // Opening the link (as a mail scanner would) uses nothing up; the button does.
    const confirm = await browser.open(link);
    expect((await browser.open(link)).$('h1').text()).toBe('Confirm your email');
    const verified = (await browser.submit(confirm, 'form')).page!;
    expect(verified.$('h1').text()).toBe('Email confirmed');

    const back = await browser.open(new URL(verified.$('a:contains("Continue signing in")').attr('href')!, verified.url).href);
    expect(back.$('h1').text()).toBe('Sign in');
    const consent = (await submitLogin(browser, back, 'jane@example.com', 'a fresh passphrase 42')).page!;
    const callback = (await browser.submit(consent, 'form[action$="/confirm"]')).leftTo!;
    const tokens = await exchangeCode(config, callback, start);
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo).toMatchObject({ email: 'Jane@Example.com', email_verified: true, name: 'Jane Doe' });

    // The link worked once.
    const again = await browser.open(link);
    expect(again.status).toBe(400);
    expect(again.$('h1').text()).toBe('This link no longer works');
  });

  it('explains each registration mistake, keeps what was typed, and creates nothing', async () => {
    const browser = newBrowser();
    const { page } = await loginPageFor(browser);
    const register = await browser.open(new URL(page.$('a:contains("Create an account")').attr('href')!, page.url).href);
    const attempt = async (fields: Record<string, string>) => (await browser.submit(register, 'form', fields)).page!;
    const base = { email: 'kim@example.com', name: 'Kim', password: 'kim passphrase 123', password_confirmation: 'kim passphrase 123' };

    const cases: [Record<string, string>, string, string][] = [
      [{ ...base, email: 'kim@' }, '#email-error', 'Enter a valid email address.'],
      [{ ...base, password_confirmation: 'something else 1' }, '#password_confirmation-error', 'The two passwords differ.'],
      [{ ...base, password: 'short', password_confirmation: 'short' }, '#password-error', 'The password must be at least 8 characters long.'],
      [{ ...base, password: 'Password123', password_confirmation: 'Password123' }, '#password-error', 'This password is one of the most common ones and easy to guess. Choose another.'],
      [{ ...base, password: 'x'.repeat(257), password_confirmation: 'x'.repeat(257) }, '#password-error', 'A password has at most 256 characters.'],
    ];
    for (const [fields, selector, message] of cases) {
      const result = await attempt(fields);
      expect(result.status, message).toBe(400);
      expect(result.$(selector).text()).toBe(message);
      expect(result.$('#name').val()).toBe('Kim');
      expect(result.$('#password').val()).toBeUndefined();
    }
    expect(await countAccounts('kim@example.com')).toBe(0);
  });

  it('answers a registration for a taken address exactly like a new one, and tells the owner instead', async () => {
    await idp.idp.accounts.createAccount({ email: 'owner@example.com', password: 'owner passphrase 1', emailVerified: true });
    const fields = (email: string) => ({ email, name: '', password: 'new passphrase 123', password_confirmation: 'new passphrase 123' });
    const pages: Record<'taken' | 'fresh', { status: number; html: string }[]> = { taken: [], fresh: [] };
    const register = async (kind: 'taken' | 'fresh', i: number) => {
      const email = kind === 'taken' ? 'owner@example.com' : `newcomer${i}@example.com`;
      const browser = newBrowser();
      const { page } = await loginPageFor(browser);
      const form = await browser.open(new URL(page.$('a:contains("Create an account")').attr('href')!, page.url).href);
      return timeOf(async () => {
        const result = (await browser.submit(form, 'form', fields(email))).page!;
        pages[kind].push({ status: result.status, html: comparableHtml(result, email) });
      });
    };
    const hashMs = await passwordCheckMs();
    const gap = await pairedTimingGap(11, (i) => register('taken', i), (i) => register('fresh', i));
    expect(pages.taken).toEqual(pages.fresh);
    // Both hash the password; the mail goes out after the answer. A skipped hash would show as a gap of one.
    expect(Math.abs(gap)).toBeLessThan(hashMs / 2);

    const notice = await smtp.waitFor('owner@example.com', /Someone tried to create an account/);
    expect(linkIn(notice, '/account/forgot-password')).toBeTruthy();
    await smtp.waitFor('newcomer0@example.com', /Confirm your email address/);
    expect(await countAccounts('owner@example.com')).toBe(1);
  });

  it('stops an unverified account at the door, and resends the link a limited number of times', async () => {
    await idp.idp.accounts.createAccount({ email: 'leo@example.com', password: 'leo passphrase 123' });
    const browser = newBrowser();
    const { page } = await loginPageFor(browser);
    const blocked = (await submitLogin(browser, page, 'leo@example.com', 'leo passphrase 123')).page!;
    expect(blocked.status).toBe(403);
    expect(blocked.$('h1').text()).toBe('Confirm your email first');

    for (let i = 0; i < 3; i += 1) {
      const sent = (await browser.submit(blocked, 'form')).page!;
      expect(sent.$('h1').text()).toBe('Check your email');
    }
    const limited = (await browser.submit(blocked, 'form')).page!;
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);

    // Only the newest link works.
    const mails = [1, 2, 3];
    const links: string[] = [];
    for (const _ of mails) links.push(linkIn(await smtp.waitFor('leo@example.com', /Confirm your email/), '/account/verify-email?token='));
    expect((await browser.open(links[0]!)).status).toBe(400);
    const confirm = await browser.open(links[2]!);
    expect((await browser.submit(confirm, 'form')).page?.$('h1').text()).toBe('Email confirmed');
  });

  describe('resetting a forgotten password', () => {
    const newPassword = 'mia new passphrase';
    let resets = 0;

    /** A Mia of her own asks for a reset link from the login page's "Forgot your password?", typing her address in capitals. */
    async function miaAsksForAResetLink() {
      resets += 1;
      const mia = { email: `mia${resets}@example.com`, password: 'mia old passphrase' };
      const { id } = await idp.idp.accounts.createAccount({ ...mia, emailVerified: true });
      const browser = newBrowser();
      const { page } = await loginPageFor(browser);
      const forgot = await browser.open(new URL(page.$('a:contains("Forgot your password?")').attr('href')!, page.url).href);
      const asked = (await browser.submit(forgot, 'form', { email: mia.email.replace('mia', 'MIA') })).page!;
      const link = linkIn(await smtp.waitFor(mia.email, /Reset your password/), '/account/reset-password?token=');
      return { mia, id, browser, forgot, asked, link };
    }

    /** Mia follows the link and chooses the new password; the page after. */
    async function resetsHerPassword({ browser, link }: { browser: Browser; link: string }) {
      const form = await browser.open(link);
      return (await browser.submit(form, 'form', { password: newPassword, password_confirmation: newPassword })).page!;
    }

    it('asks for the email behind "Forgot your password?" and says to check the mail, whatever the case of the address', async () => {
      const { forgot, asked } = await miaAsksForAResetLink();
      expect(forgot.$('h1').text()).toBe('Reset your password');
      expect(asked.$('h1').text()).toBe('Check your email');
    });

    it('refuses a common password and two that differ on the page the link opens', async () => {
      const { browser, link } = await miaAsksForAResetLink();
      const form = await browser.open(link);
      expect(form.$('h1').text()).toBe('Choose a new password');
      const weak = (await browser.submit(form, 'form', { password: 'password1', password_confirmation: 'password1' })).page!;
      expect(weak.status).toBe(400);
      expect(weak.$('#password-error').text()).toContain('most common');
      const mismatch = (await browser.submit(weak, 'form', { password: newPassword, password_confirmation: `${newPassword}!` })).page!;
      expect(mismatch.$('#password_confirmation-error').text()).toBe('The two passwords differ.');
    });

    it('says the password was changed, tells the owner by mail, and audits the reset once', async () => {
      const asked = await miaAsksForAResetLink();
      const changed = await resetsHerPassword(asked);
      expect(changed.$('h1').text()).toBe('Your password was changed');
      await smtp.waitFor(asked.mia.email, /Your password was changed/);
      const audited = await idp.idp.database.db.selectFrom('audit_events').select(['action', 'target_id']).where('action', '=', 'account.password-reset').where('target_id', '=', asked.id).execute();
      expect(audited).toHaveLength(1);
    });

    it('ends the sessions and refresh tokens signed in before the reset', async () => {
      const asked = await miaAsksForAResetLink();
      const config = await webApp();
      const oldBrowser = newBrowser();
      const before = await startAuthorization(config, { scope: 'openid email offline_access', prompt: 'consent' });
      const oldTokens = await exchangeCode(config, await signIn(oldBrowser, before.url, asked.mia), before);
      await resetsHerPassword(asked);

      await expect(oidc.refreshTokenGrant(config, oldTokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      await expect(oidc.fetchUserInfo(config, oldTokens.access_token, oldTokens.claims()!.sub)).rejects.toMatchObject({ status: 401 });
      const silent = await startAuthorization(config, { prompt: 'none', scope: 'openid email' });
      expect((await oldBrowser.navigate(silent.url.href)).leftTo?.searchParams.get('error')).toBe('login_required');
    });

    it('refuses a used link, offering to send a new one', async () => {
      const asked = await miaAsksForAResetLink();
      await resetsHerPassword(asked);
      const reused = await asked.browser.open(asked.link);
      expect(reused.status).toBe(400);
      expect(reused.$('a:contains("Send me a new link")').attr('href')).toBe('/account/forgot-password');
    });

    it('refuses the old password after the reset, and the new one signs in to the app', async () => {
      const asked = await miaAsksForAResetLink();
      const changed = await resetsHerPassword(asked);
      const back = await asked.browser.open(new URL(changed.$('a:contains("Continue signing in")').attr('href')!, changed.url).href);
      const wrong = (await submitLogin(asked.browser, back, asked.mia.email, asked.mia.password)).page!;
      expect(wrong.$('[role=alert]').text()).toBe('Wrong email or password.');
      const fresh = await startAuthorization(await webApp(), { scope: 'openid email' });
      expect(await signIn(newBrowser(), fresh.url, { email: asked.mia.email, password: newPassword })).toBeInstanceOf(URL);
    });
  });

  it('refuses an expired reset link with a page that offers a new one', async () => {
    await idp.idp.accounts.createAccount({ email: 'ned@example.com', password: 'ned passphrase 123', emailVerified: true });
    const browser = newBrowser();
    const forgot = await browser.open(`${idp.issuer}/account/forgot-password`);
    await browser.submit(forgot, 'form', { email: 'ned@example.com' });
    const link = linkIn(await smtp.waitFor('ned@example.com', /Reset your password/), '/account/reset-password?token=');
    const form = await browser.open(link);
    await idp.idp.database.db.updateTable('email_tokens').set({ expires_at: new Date(Date.now() - 1000) }).execute();

    const expired = await browser.open(link);
    expect(expired.status).toBe(400);
    expect(expired.$('h1').text()).toBe('This link no longer works');
    const late = (await browser.submit(form, 'form', { password: 'ned new passphrase', password_confirmation: 'ned new passphrase' })).page!;
    expect(late.status).toBe(400);
    expect(late.$('h1').text()).toBe('This link no longer works');
    const tampered = await browser.open(link.replace(/token=./, 'token=X'));
    expect(tampered.status).toBe(400);
  });
});
