import { generate } from 'otplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { type Browser, type Navigation, page, type Page } from '../support/browser.ts';
import { backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, startAuthorization, submitLogin } from '../support/rp.ts';

const password = 'second factor password 1';
const codeAt = (secret: string, secondsFromNow = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + secondsFromNow });


/** Password first; returns the page that follows (the second step, or a redirect to the app). */
async function passwordStep(idp: TestIdp, email: string, params: Record<string, string> = {}) {
  const config = await relyingParty(idp.issuer, webAppClient);
  const start = await startAuthorization(config, { scope: 'openid', ...params });
  const browser = newBrowser();
  const loginPage = await browser.open(start.url.href);
  const next = await submitLogin(browser, loginPage, email, password);
  return { config, start, browser, next };
}

/** Consents when asked (the test client is not first-party) and returns where the browser was sent back to the app. */
async function callbackAfter(browser: Browser, step: Navigation): Promise<URL> {
  let current = step;
  while (current.page?.$('form[action$="/confirm"]').length) current = await browser.submit(current.page, 'form[action$="/confirm"]');
  if (!current.leftTo) throw new Error(`expected a return to the app, got ${current.page?.status} ${current.page?.$('h1').text()}`);
  return current.leftTo;
}

async function enterCode(browser: Browser, current: Page, code: string): Promise<Navigation> {
  return browser.submit(current, 'form[action$="/second-factor"]', { code });
}

describe.each(backends)('second factor: authenticator app (%s)', (backend) => {
  let idp: TestIdp;
  let accountId: string;
  let secret: string;
  let recoveryCodes: string[];

  beforeAll(async () => {
    idp = await startTestIdp({ backend, env: { MFA: 'required' } });
    accountId = (await idp.idp.accounts.createAccount({ email: 'ivy@example.com', password, emailVerified: true })).id;
  });
  afterAll(() => idp.destroy());

  it('makes a person without one set up an authenticator app while signing in, then shows recovery codes once', async () => {
    const { config, start, browser, next } = await passwordStep(idp, 'ivy@example.com');
    const setup = page(next);
    expect(setup.url).toMatch(/\/second-factor\/setup$/);
    expect(setup.$('h1').text()).toBe('Set up two-step verification');
    // Required by policy: it says so, and offers no way back into the account pages.
    expect(setup.$('.lead').text()).toContain('Your account needs a second step');
    expect(setup.$('a[href="/account/security"]')).toHaveLength(0);
    expect(setup.$('img.qr').attr('src')).toMatch(/^data:image\/svg\+xml;base64,/);
    secret = setup.$('code.secret').text();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);

    const wrong = page(await browser.submit(setup, 'form[action$="/second-factor/setup"]', { code: '000000' === (await codeAt(secret)) ? '111111' : '000000' }));
    expect(wrong.status).toBe(400);
    expect(wrong.$('#code-error').text()).toContain('not right');
    expect(wrong.$('code.secret').text()).toBe(secret);

    const codesPage = page(await browser.submit(wrong, 'form[action$="/second-factor/setup"]', { code: await codeAt(secret) }));
    recoveryCodes = codesPage.$('.recovery-codes code').map((_i, element) => codesPage.$(element).text()).get();
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);

    const callback = await callbackAfter(browser, await browser.submit(codesPage, 'form'));
    const tokens = await exchangeCode(config, callback, start);
    expect(tokens.claims()).toMatchObject({ sub: accountId, amr: ['pwd', 'otp'], acr: 'urn:idp:acr:2fa' });
    expect(await idp.idp.secondFactors.status(accountId)).toEqual({ totp: true, recoveryCodesLeft: 10, passkeys: 0 });
    expect(idp.logs.raw).not.toContain(secret);
  });

  it('lets a person who must set up an app use another account instead: no dead end', async () => {
    await idp.idp.accounts.createAccount({ email: 'wren@example.com', password, emailVerified: true });
    const { browser, next } = await passwordStep(idp, 'wren@example.com');
    const setup = page(next);
    expect(setup.$('form[action$="/switch-account"] button').text()).toBe('Not you? Use another account');
    const login = page(await browser.submit(setup, 'form[action$="/switch-account"]'));
    expect(login.$('form[action$="/login"]')).toHaveLength(1);
    // The password proven for the set-up no longer opens it.
    expect((await browser.open(setup.url)).status).toBe(400);
  });

  it('asks for a code after the password, accepts each code once, and takes a recovery code once', async () => {
    const first = await passwordStep(idp, 'ivy@example.com');
    const prompt = page(first.next);
    expect(prompt.$('h1').text()).toBe('Two-step verification');
    // The code of the step the enrollment used was spent: the next step's code is accepted (clock tolerance).
    const code = await codeAt(secret, 30);
    const callback = await callbackAfter(first.browser, await enterCode(first.browser, prompt, code));
    expect((await exchangeCode(first.config, callback, first.start)).claims()).toMatchObject({ amr: ['pwd', 'otp'], acr: 'urn:idp:acr:2fa' });

    const replay = await passwordStep(idp, 'ivy@example.com');
    const refused = page(await enterCode(replay.browser, page(replay.next), code));
    expect(refused.status).toBe(400);
    expect(refused.$('#code-error').text()).toContain('already used');

    const recovery = recoveryCodes[0]!;
    const withRecovery = await callbackAfter(replay.browser, await enterCode(replay.browser, refused, recovery.toLowerCase()));
    expect((await exchangeCode(replay.config, withRecovery, replay.start)).claims()?.amr).toEqual(['pwd', 'otp']);
    const again = await passwordStep(idp, 'ivy@example.com');
    expect(page(await enterCode(again.browser, page(again.next), recovery)).status).toBe(400);
    expect((await idp.idp.secondFactors.status(accountId)).recoveryCodesLeft).toBe(9);
  });

  it('locks the second step after repeated wrong codes, audited', async () => {
    const attempt = await passwordStep(idp, 'ivy@example.com');
    let current = page(attempt.next);
    for (let i = 0; i < 5; i += 1) current = page(await enterCode(attempt.browser, current, '12345' + String(i)));
    expect(current.status).toBe(429);
    expect(current.$('#code-error').text()).toMatch(/Too many wrong codes/);
    const right = page(await enterCode(attempt.browser, current, await codeAt(secret, -30)));
    expect(right.status).toBe(429);
    const denied = await idp.idp.database.db.selectFrom('audit_events').select('action').where('target_id', '=', accountId).where('outcome', '=', 'denied').execute();
    expect(denied.filter((row) => row.action === 'mfa.verify').length).toBeGreaterThanOrEqual(5);
  });
});

describe('second factor requested by the client (acr_values step-up)', () => {
  let idp: TestIdp | undefined;
  afterEach(async () => {
    await idp?.destroy();
    idp = undefined;
  });

  it('asks a person signed in with a password for a second factor when a client requests it, without the password again', async () => {
    idp = await startTestIdp({ backend: 'pglite' });
    await idp.idp.accounts.createAccount({ email: 'jay@example.com', password, emailVerified: true });
    const { config, start, browser, next } = await passwordStep(idp, 'jay@example.com');
    const tokens = await exchangeCode(config, await callbackAfter(browser, next), start);
    expect(tokens.claims()).toMatchObject({ amr: ['pwd'], acr: 'urn:idp:acr:1fa' });

    const silent = await startAuthorization(config, { scope: 'openid', prompt: 'none', acr_values: 'urn:idp:acr:2fa' });
    expect((await browser.navigate(silent.url.href)).leftTo!.searchParams.get('error')).toBe('login_required');

    const stepUp = await startAuthorization(config, { scope: 'openid', acr_values: 'urn:idp:acr:2fa' });
    const setup = await browser.open(stepUp.url.href);
    expect(setup.$('h1').text()).toBe('Set up two-step verification');
    const codes = page(await browser.submit(setup, 'form[action$="/second-factor/setup"]', { code: await codeAt(setup.$('code.secret').text()) }));
    const stepped = await exchangeCode(config, await callbackAfter(browser, await browser.submit(codes, 'form')), stepUp);
    expect(stepped.claims()).toMatchObject({ sub: tokens.claims()!.sub, amr: ['pwd', 'otp'], acr: 'urn:idp:acr:2fa' });

    // The session now has two factors: the same request needs no page.
    const again = await startAuthorization(config, { scope: 'openid', acr_values: 'urn:idp:acr:2fa', prompt: 'none' });
    const callback = (await browser.navigate(again.url.href)).leftTo!;
    expect(callback.searchParams.get('error')).toBeNull();
    expect((await exchangeCode(config, callback, again)).claims()?.acr).toBe('urn:idp:acr:2fa');
  });
});
