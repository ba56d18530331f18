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

  /** Fills "Create an account" from a fresh authorization; the "check your email" page after. */
  async function registers(browser: Browser, email: string, password = 'a fresh passphrase 42', name = 'Jane Doe') {
    const { config, start, page } = await loginPageFor(browser);
    const register = await browser.open(new URL(page.$('a:contains("Create an account")').attr('href')!, page.url).href);
    expect(register.$('h1').text()).toBe('Create an account');
    const done = (await browser.submit(register, 'form', { email, name, password, password_confirmation: password })).page!;
    return { config, start, done };
  }

  /** Past consent, when the app asks for it: the callback the app receives. */
  async function throughConsent(browser: Browser, step: Awaited<ReturnType<Browser['navigate']>>) {
    if (step.leftTo) return step.leftTo;
    expect(step.page.$('form[action$="/confirm"]').length, step.page.$('h1').text()).toBe(1);
    const next = await browser.submit(step.page, 'form[action$="/confirm"]');
    if (!next.leftTo) throw new Error(`expected the app's callback, got ${next.page.$('h1').text()}`);
    return next.leftTo;
  }

  it('registers from the login page, and the confirmed link in the same browser returns to the app signed in, without the password again', async () => {
    const browser = newBrowser();
    const { config, start, done } = await registers(browser, 'Jane@Example.com');
    expect(done.status).toBe(200);
    expect(done.$('h1').text()).toBe('Almost done: confirm your email');
    // Real mail here: no hint of the development outbox.
    expect(done.$('a[href="/dev/outbox"]').length).toBe(0);

    const mail = await smtp.waitFor('jane@example.com', /Confirm your email address/);
    expect(mail.html).toContain('Confirm my email');
    const link = linkIn(mail, '/account/verify-email?token=');
    // Opening the link (as a mail scanner would) uses nothing up; the button does.
    const confirm = await browser.open(link);
    expect((await browser.open(link)).$('h1').text()).toBe('Confirm your email');
    const callback = await throughConsent(browser, await browser.submit(confirm, 'form'));
    expect(callback.searchParams.get('code')).toBeTruthy();
    const tokens = await exchangeCode(config, callback, start);
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo).toMatchObject({ email: 'Jane@Example.com', email_verified: true, name: 'Jane Doe' });
    // Recorded as a sign-in of the account.
    const signIns = await idp.idp.database.db.selectFrom('login_history').select('outcome').where('account_id', '=', tokens.claims()!.sub).execute();
    expect(signIns.map((row) => row.outcome)).toEqual(['success']);

    // The link worked once.
    const again = await browser.open(link);
    expect(again.status).toBe(400);
    expect(again.$('h1').text()).toBe('This link no longer works');
  });

  it('signs no one in from the link alone: another browser is sent back, and the registering window continues with its button', async () => {
    const registering = newBrowser();
    const { config, start, done } = await registers(registering, 'noor@example.com');
    // Pressed too early: still waiting for the confirmation.
    const early = (await registering.submit(done, `form[action$="/registered"]`)).page!;
    expect(early.$('[role=alert]').text()).toBe('Your address is not confirmed yet. Open the link in the message we sent, then press the button again.');

    const link = linkIn(await smtp.waitFor('noor@example.com', /Confirm your email address/), '/account/verify-email?token=');
    const phone = newBrowser();
    const verified = (await phone.submit(await phone.open(link), 'form')).page!;
    expect(verified.url).toContain('/account/verify-email');
    expect(verified.$('h1').text()).toBe('Email confirmed');
    expect(verified.$('main, body').text()).toContain('go back to the window where you started');
    // Nor does the other browser get in through the interaction's own address.
    const uid = new URL(done.$('form[action$="/registered"]').attr('action')!, done.url).pathname.split('/')[2]!;
    const elsewhere = await phone.navigate(`${idp.issuer}/interaction/${uid}/registered`);
    expect(elsewhere.leftTo).toBeUndefined();
    expect(elsewhere.page!.$('form[action$="/confirm"]').length).toBe(0);

    const callback = await throughConsent(registering, await registering.submit(early, `form[action$="/registered"]`));
    const tokens = await exchangeCode(config, callback, start);
    expect(tokens.claims()).toMatchObject({ email: 'noor@example.com' });
  });

  it('asks for the second step the app requires before continuing a registration', async () => {
    const browser = newBrowser();
    const { page } = await loginPageFor(browser, { acr_values: 'urn:idp:acr:2fa' });
    const register = await browser.open(new URL(page.$('a:contains("Create an account")').attr('href')!, page.url).href);
    await browser.submit(register, 'form', { email: 'ines@example.com', password: 'ines passphrase 42', password_confirmation: 'ines passphrase 42' });
    const link = linkIn(await smtp.waitFor('ines@example.com', /Confirm your email address/), '/account/verify-email?token=');
    const next = await browser.submit(await browser.open(link), 'form');
    expect(next.leftTo).toBeUndefined();
    expect(next.page!.url).toMatch(/\/second-factor\/setup$/);
  });

  it('continues no one into an account whose address was taken, whatever they press', async () => {
    await idp.idp.accounts.createAccount({ email: 'taken@example.com', password: 'owner passphrase 1', emailVerified: true });
    const browser = newBrowser();
    const { done } = await registers(browser, 'taken@example.com');
    expect(done.$('h1').text()).toBe('Almost done: confirm your email');
    await smtp.waitFor('taken@example.com', /Someone tried to create an account/);
    const pressed = (await browser.submit(done, `form[action$="/registered"]`)).page!;
    expect(pressed.$('[role=alert]').text()).toContain('not confirmed yet');
  });

  it('sends the link again from the "check your email" page, answering alike for any address', async () => {
    const browser = newBrowser();
    const { done } = await registers(browser, 'ravi@example.com');
    await smtp.waitFor('ravi@example.com', /Confirm your email address/);
    const resent = (await browser.submit(done, 'form[action$="/resend-verification"]')).page!;
    expect(resent.status).toBe(200);
    expect(resent.$('h1').text()).toBe('Check your email');
    const second = linkIn(await smtp.waitFor('ravi@example.com', /Confirm your email address/), '/account/verify-email?token=');
    // The resent page can continue too: the newest link, in this browser, leads on.
    expect(resent.$('form[action$="/registered"]').length).toBe(1);
    expect((await browser.open(second)).$('h1').text()).toBe('Confirm your email');

    // An address without an account gets the same page.
    const unknown = (await browser.submit(done, 'form[action$="/resend-verification"]', { email: 'nobody-here@example.com' })).page!;
    expect(comparableHtml(unknown, 'nobody-here@example.com')).toBe(comparableHtml(resent, 'ravi@example.com'));
  });

  it('shows a single mistake once, at its field, and several in a summary too', async () => {
    const browser = newBrowser();
    const { page } = await loginPageFor(browser);
    const register = await browser.open(new URL(page.$('a:contains("Create an account")').attr('href')!, page.url).href);
    const one = (await browser.submit(register, 'form', { email: 'kai@', name: '', password: 'kai passphrase 123', password_confirmation: 'kai passphrase 123' })).page!;
    expect(one.status).toBe(400);
    expect(one.html.split('Enter a valid email address.').length - 1).toBe(1);
    expect(one.$('#email-error').text()).toBe('Enter a valid email address.');
    expect(one.$('.error-summary').length).toBe(0);

    const two = (await browser.submit(register, 'form', { email: 'kai@', name: '', password: 'kai passphrase 123', password_confirmation: '' })).page!;
    expect(two.$('.error-summary li').length).toBe(2);
    expect(two.$('#email-error').text()).toBe('Enter a valid email address.');

    // The same on every form with a summary: here "Forgot your password?".
    const forgot = await browser.open(new URL(page.$('a:contains("Forgot your password?")').attr('href')!, page.url).href);
    const bad = (await browser.submit(forgot, 'form', { email: 'kai@' })).page!;
    expect(bad.status).toBe(400);
    expect(bad.html.split('Enter a valid email address.').length - 1).toBe(1);
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
    // Not confirmed yet: "I have confirmed" keeps the person here.
    const early = (await browser.submit(blocked, 'form[action$="/registered"]')).page!;
    expect(early.$('[role=alert]').text()).toContain('not confirmed yet');

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
    // Confirmed in the browser that proved the password: on to the app, without it again.
    const confirm = await browser.open(links[2]!);
    const callback = await throughConsent(browser, await browser.submit(confirm, 'form'));
    expect(callback.searchParams.get('code')).toBeTruthy();
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
