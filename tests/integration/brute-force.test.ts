import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Browser, comparableHtml, type Page } from '../support/browser.ts';
import { backends, serviceClient, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { basicAuthorization, newBrowser, relyingParty, startAuthorization, submitLogin } from '../support/rp.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { pairedTimingGap, passwordCheckMs, timeOf } from '../support/timing.ts';

const LOCK_SECONDS = 2;

async function loginPage(idp: TestIdp, browser: Browser = newBrowser()) {
  const config = await relyingParty(idp.issuer, webAppClient);
  return { browser, page: await browser.open((await startAuthorization(config)).url.href) };
}


describe.each(backends)('brute-force protection and enumeration (%s)', (backend) => {
  let idp: TestIdp;
  let smtp: TestSmtpServer;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    idp = await startTestIdp({ backend, env: { SMTP_URL: smtp.url, LOGIN_LOCKOUT_SECONDS: String(LOCK_SECONDS), RATE_LIMIT_IP_FORMS: '100' } });
    for (const email of ['olga@example.com', 'pat@example.com', 'quinn@example.com']) {
      await idp.idp.accounts.createAccount({ email, password: 'the right passphrase', emailVerified: true });
    }
  });
  afterAll(async () => {
    await idp?.destroy();
    await smtp?.close();
  });

  it('locks password sign-in after 5 failures, the same way for unknown emails, and unlocks after the lockout', async () => {
    const lock = async (email: string) => {
      const { browser, page } = await loginPage(idp);
      let result = page;
      for (let i = 1; i <= 4; i += 1) {
        result = (await submitLogin(browser, result, email, `wrong guess ${i}`)).page!;
        expect(result.status).toBe(400);
      }
      const fifth = (await submitLogin(browser, result, email, 'wrong guess 5')).page!;
      return { browser, fifth };
    };

    const known = await lock('olga@example.com');
    const unknown = await lock('nobody-here@example.com');
    for (const { fifth } of [known, unknown]) {
      expect(fifth.status).toBe(429);
      expect(Number(fifth.headers.get('retry-after'))).toBe(LOCK_SECONDS);
      expect(fifth.$('[role=alert]').text()).toMatch(/^Too many failed sign-ins for this email\./);
    }
    expect(comparableHtml(known.fifth, 'olga@example.com')).toBe(comparableHtml(unknown.fifth, 'nobody-here@example.com'));

    const lockouts = await idp.idp.database.db.selectFrom('audit_events').selectAll().where('action', '=', 'account.lockout').execute();
    expect(lockouts.map((row) => row.target_id)).toEqual(expect.arrayContaining([expect.any(String), null]));

    // Locked: even the right password is refused, with the same page.
    const stillLocked = (await submitLogin(known.browser, known.fifth, 'olga@example.com', 'the right passphrase')).page!;
    expect(stillLocked.status).toBe(429);

    await new Promise((resolve) => setTimeout(resolve, LOCK_SECONDS * 1000 + 300));
    const unlocked = await submitLogin(known.browser, stillLocked, 'olga@example.com', 'the right passphrase');
    expect(unlocked.page?.$('h1').text() ?? 'left for the RP').not.toBe('Sign in');
  });

  it('forgets earlier failures after a successful sign-in', async () => {
    const { browser, page } = await loginPage(idp);
    let result = page;
    for (let i = 0; i < 4; i += 1) result = (await submitLogin(browser, result, 'pat@example.com', 'nope nope nope')).page!;
    await submitLogin(browser, result, 'pat@example.com', 'the right passphrase');

    const second = await loginPage(idp);
    result = second.page;
    for (let i = 0; i < 4; i += 1) {
      result = (await submitLogin(second.browser, result, 'pat@example.com', 'nope nope nope')).page!;
      expect(result.status).toBe(400);
    }
  });

  it('records every attempt in the login history and the time of the last sign-in', async () => {
    const { browser, page } = await loginPage(idp);
    const failed = (await submitLogin(browser, page, 'quinn@example.com', 'not the passphrase')).page!;
    await submitLogin(browser, failed, 'quinn@example.com', 'the right passphrase');
    const { db } = idp.idp.database;
    const account = await db.selectFrom('accounts').selectAll().where('email', '=', 'quinn@example.com').executeTakeFirstOrThrow();
    expect(account.last_login_at).toBeInstanceOf(Date);
    const history = await db.selectFrom('login_history').selectAll().where('account_id', '=', account.id).orderBy('id').execute();
    expect(history.map((row) => row.outcome)).toEqual(['wrong_password', 'success']);
    expect(history[0]).toMatchObject({ ip: expect.stringMatching(/127\.0\.0\.1/), user_agent: expect.any(String) });
    const unknown = await db.selectFrom('login_history').select('outcome').where('account_id', 'is', null).execute();
    expect(unknown.map((row) => row.outcome)).toContain('unknown_account');
  });

  it('answers known and unknown emails alike, in status, page and time, on sign-in and password reset', async () => {
    const pages: Record<'known' | 'unknown', Page | undefined> = { known: undefined, unknown: undefined };
    const resetPages: Record<'known' | 'unknown', Page | undefined> = { known: undefined, unknown: undefined };
    const signIn = async (kind: 'known' | 'unknown', i: number) => {
      const email = kind === 'known' ? 'quinn@example.com' : `ghost${i}@example.com`;
      const { browser, page } = await loginPage(idp);
      const taken = await timeOf(async () => {
        pages[kind] = (await submitLogin(browser, page, email, `wrong ${i}`)).page;
      });
      if (kind === 'known') {
        // Keep the known account below the lockout threshold.
        const again = await loginPage(idp);
        await submitLogin(again.browser, again.page, email, 'the right passphrase');
      }
      return taken;
    };
    const forgot = async (kind: 'known' | 'unknown', i: number) => {
      const email = kind === 'known' ? 'quinn@example.com' : `ghost${i}@example.com`;
      const browser = newBrowser();
      const form = await browser.open(`${idp.issuer}/account/forgot-password`);
      return timeOf(async () => {
        resetPages[kind] = (await browser.submit(form, 'form', { email })).page;
      });
    };
    const samples = 11;
    const hashMs = await passwordCheckMs();
    const loginGap = await pairedTimingGap(samples, (i) => signIn('known', i), (i) => signIn('unknown', i));
    const resetGap = await pairedTimingGap(samples, (i) => forgot('known', i), (i) => forgot('unknown', i));

    expect(pages.known!.status).toBe(pages.unknown!.status);
    expect(comparableHtml(pages.known!, 'quinn@example.com')).toBe(comparableHtml(pages.unknown!, `ghost${samples - 1}@example.com`));
    expect(resetPages.known!.status).toBe(200);
    expect(resetPages.unknown!.status).toBe(200);
    expect(comparableHtml(resetPages.known!, 'quinn@example.com')).toBe(comparableHtml(resetPages.unknown!, `ghost${samples - 1}@example.com`));

    // A skipped password check would show as a gap of one check; the mail goes out after the answer.
    expect(Math.abs(loginGap)).toBeLessThan(hashMs / 2);
    expect(Math.abs(resetGap)).toBeLessThan(hashMs / 2);
    await smtp.waitFor('quinn@example.com', /Reset your password/);
    expect(smtp.to('ghost0@example.com')).toEqual([]);
  });
});

describe('per-IP limits and closed registration', () => {
  let idp: TestIdp;
  let smtp: TestSmtpServer;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    idp = await startTestIdp({
      backend: backends.at(-1)!,
      env: {
        SMTP_URL: smtp.url,
        REGISTRATION: 'closed',
        RATE_LIMIT_IP_FORMS: '2',
        RATE_LIMIT_IP_LOGIN: '3',
        RATE_LIMIT_IP_TOKEN: '3',
      },
    });
  });
  afterAll(async () => {
    await idp?.destroy();
    await smtp?.close();
  });

  it('limits password reset requests per IP with 429 and Retry-After', async () => {
    const browser = newBrowser();
    for (let i = 0; i < 2; i += 1) {
      const form = await browser.open(`${idp.issuer}/account/forgot-password`);
      expect((await browser.submit(form, 'form', { email: `someone${i}@example.com` })).page?.status).toBe(200);
    }
    const form = await browser.open(`${idp.issuer}/account/forgot-password`);
    const limited = (await browser.submit(form, 'form', { email: 'someone@example.com' })).page!;
    expect(limited.status).toBe(429);
    expect(limited.$('h1').text()).toBe('Too many attempts');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('limits sign-in attempts per IP, whatever the emails', async () => {
    const { browser, page } = await loginPage(idp);
    let result = page;
    for (let i = 0; i < 3; i += 1) result = (await submitLogin(browser, result, `user${i}@example.com`, 'guess guess')).page!;
    const limited = (await submitLogin(browser, result, 'user9@example.com', 'guess guess')).page!;
    expect(limited.status).toBe(429);
  });

  it('limits token requests per IP with 429 and a JSON error', async () => {
    const service = await relyingParty(idp.issuer, serviceClient);
    for (let i = 0; i < 3; i += 1) await oidc.clientCredentialsGrant(service);
    const response = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: basicAuthorization(serviceClient),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await response.json()).toMatchObject({ error: 'too_many_requests' });
  });

  it('offers no registration when it is closed', async () => {
    const { browser, page } = await loginPage(idp);
    expect(page.$('a:contains("Create an account")').length).toBe(0);
    const closed = await browser.open(`${page.url}/register`);
    expect(closed.status).toBe(404);
    expect(closed.$('h1').text()).toBe('Registration is closed');
  });
});

describe('the development outbox', () => {
  let idp: TestIdp;
  beforeAll(async () => {
    idp = await startTestIdp({ backend: 'pglite' });
    await idp.idp.accounts.createAccount({ email: 'rita@example.com', password: 'rita passphrase 1', emailVerified: true });
  });
  afterAll(() => idp?.destroy());

  it('keeps mail at /dev/outbox and logs where to read it, never the link itself', async () => {
    const browser = newBrowser();
    const form = await browser.open(`${idp.issuer}/account/forgot-password`);
    const sent = (await browser.submit(form, 'form', { email: 'rita@example.com' })).page!;
    await idp.idp.mailer.drain();

    // The "check your email" page of a reset points to the outbox, as the registration's does.
    const outbox = await browser.open(new URL(sent.$('a:contains("Read it in the outbox")').attr('href')!, sent.url).href);
    const entry = outbox.$('a:contains("Reset your password")');
    expect(entry.length).toBe(1);
    const message = await browser.open(new URL(entry.attr('href')!, outbox.url).href);
    const link = message.$('a[href*="/account/reset-password?token="]').attr('href')!;
    expect((await browser.open(link)).$('h1').text()).toBe('Choose a new password');

    const logged = idp.logs.lines.find((line) => line.msg === 'mail kept in the development outbox');
    expect(logged).toMatchObject({ to: 'rita@example.com', read: expect.stringContaining('/dev/outbox/') });
    expect(idp.logs.raw).not.toContain(new URL(link).searchParams.get('token'));
  });

  it('points the "check your email" page to the outbox, whose link then continues into the app in the same browser', async () => {
    const { browser, page } = await loginPage(idp);
    const register = await browser.open(new URL(page.$('a:contains("Create an account")').attr('href')!, page.url).href);
    const done = (await browser.submit(register, 'form', { email: 'otis@example.com', password: 'otis passphrase 1', password_confirmation: 'otis passphrase 1' })).page!;
    expect(done.$('h1').text()).toBe('Almost done: confirm your email');
    await idp.idp.mailer.drain();

    const outbox = await browser.open(new URL(done.$('a:contains("Read it in the outbox")').attr('href')!, done.url).href);
    const message = await browser.open(new URL(outbox.$('a:contains("Confirm your email address")').attr('href')!, outbox.url).href);
    const confirm = await browser.open(message.$('a[href*="/account/verify-email?token="]').attr('href')!);
    let step = await browser.submit(confirm, 'form');
    if (step.page) step = await browser.submit(step.page, 'form[action$="/confirm"]');
    expect(step.leftTo?.searchParams.get('code')).toBeTruthy();
  });
});
