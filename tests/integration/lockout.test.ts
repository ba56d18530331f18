import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Browser, ceremonyOptions, comparableHtml, type Navigation, page, type Page } from '../support/browser.ts';
import { type FakeGoogle, startFakeGoogle } from '../support/fake-google.ts';
import { backends, firstPartyClient, startTestIdp, type TestIdp } from '../support/idp.ts';
import { newBrowser, relyingParty, signIn, startAuthorization, submitLogin } from '../support/rp.ts';
import { linkIn, startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { SoftAuthenticator } from '../support/soft-authenticator.ts';

const password = 'the owner passphrase';



/**
 * Back at the app, past the consent page if it comes. `passkeys`: the step came after the password
 * or Google, and must be the second step, which the owner's passkey then passes.
 */
async function backAtApp(browser: Browser, step: Navigation, passkeys?: SoftAuthenticator): Promise<URL | undefined> {
  let current = step;
  if (passkeys) {
    if (!current.page?.url.endsWith('/second-factor')) throw new Error(`expected the second step, got ${current.page?.status} ${current.page?.url ?? current.leftTo}`);
    const options = await ceremonyOptions(browser, current.page, 'form[data-passkey]');
    current = await browser.submit(current.page, 'form[data-passkey]', { response: JSON.stringify(passkeys.authenticate(options as never)) });
  }
  while (current.page?.$('form[action$="/confirm"]').length) current = await browser.submit(current.page, 'form[action$="/confirm"]');
  if (!current.leftTo) throw new Error(`expected a return to the app, got ${current.page?.status} ${current.page?.url} ${current.page?.$('h1').text()}: ${current.page?.$('[role=alert], .alert').text()}`);
  return current.leftTo;
}

describe.each(backends)('an email lock does not lock the owner out (%s)', (backend) => {
  let idp: TestIdp;
  let smtp: TestSmtpServer;
  let google: FakeGoogle;
  let config: Awaited<ReturnType<typeof relyingParty>>;
  let owner: Browser;
  const authenticator = () => new SoftAuthenticator('localhost', idp.issuer);
  let ownersPasskeys: SoftAuthenticator;

  /** The login page of a fresh authorization (prompt=login: a signed-in browser is asked again). */
  const loginPage = async (browser: Browser) => browser.open((await startAuthorization(config, { scope: 'openid', prompt: 'login' })).url.href);

  async function lockFrom(browser: Browser, email: string): Promise<Page> {
    let current = await loginPage(browser);
    for (let i = 1; i <= 5; i += 1) current = page(await submitLogin(browser, current, email, `attacker guess ${i}`));
    expect(current.status).toBe(429);
    return current;
  }

  beforeAll(async () => {
    smtp = await startSmtpServer();
    google = await startFakeGoogle();
    idp = await startTestIdp({
      backend,
      issuerHost: 'localhost',
      env: { SMTP_URL: smtp.url, GOOGLE_CLIENT_ID: google.clientId, GOOGLE_CLIENT_SECRET: google.clientSecret, GOOGLE_ISSUER: google.issuer },
    });
    google.register(`${idp.issuer}/interaction/callback/google`);
    config = await relyingParty(idp.issuer, firstPartyClient);
    await idp.idp.accounts.createAccount({ email: 'owner@example.com', password, emailVerified: true });

    // The owner signs in from their own browser once, and adds a passkey there.
    owner = newBrowser();
    await signIn(owner, (await startAuthorization(config, { scope: 'openid' })).url, { email: 'owner@example.com', password });
    ownersPasskeys = authenticator();
    const account = await owner.open(`${idp.issuer}/account/security`);
    const options = await ceremonyOptions(owner, account, 'form[action="/account/passkeys"]');
    expect(page(await owner.submit(account, 'form[action="/account/passkeys"]', { response: JSON.stringify(ownersPasskeys.register(options)), name: 'Laptop' })).status).toBe(200);
  });
  afterAll(async () => {
    await idp?.destroy();
    await smtp?.close();
    await google?.stop().catch(() => {});
  });

  it('lets the right password through from a browser that signed in before, and from nowhere else', async () => {
    const attacker = newBrowser();
    await lockFrom(attacker, 'owner@example.com');

    // Another browser, even with the right password: locked, with the page an unknown email gets.
    const stranger = newBrowser();
    const refused = page(await submitLogin(stranger, await loginPage(stranger), 'owner@example.com', password));
    expect(refused.status).toBe(429);
    const unknownLocked = await lockFrom(newBrowser(), 'nobody-at-all@example.com');
    const unknownRefused = page(await submitLogin(stranger, await loginPage(stranger), 'nobody-at-all@example.com', password));
    expect(unknownRefused.status).toBe(refused.status);
    expect(comparableHtml(unknownRefused, 'nobody-at-all@example.com')).toBe(comparableHtml(refused, 'owner@example.com'));
    expect(unknownLocked.headers.get('retry-after')).toBe(refused.headers.get('retry-after'));

    // The attacker's own jar carries no device cookie for this account: still locked.
    expect(page(await submitLogin(attacker, await loginPage(attacker), 'owner@example.com', password)).status).toBe(429);

    // The owner's browser: a wrong password is refused as locked, the right one signs in.
    expect(page(await submitLogin(owner, await loginPage(owner), 'owner@example.com', 'a wrong guess')).status).toBe(429);
    const signedIn = await backAtApp(owner, await submitLogin(owner, await loginPage(owner), 'owner@example.com', password), ownersPasskeys);
    expect(signedIn?.searchParams.get('code')).toBeTruthy();

    // The owner getting in lifts the lock for nobody else.
    expect(page(await submitLogin(stranger, await loginPage(stranger), 'owner@example.com', password)).status).toBe(429);
  });

  it('does not take a device cookie copied from another account, or a forged one', async () => {
    await idp.idp.accounts.createAccount({ email: 'other@example.com', password: 'the other passphrase', emailVerified: true });
    await lockFrom(newBrowser(), 'owner@example.com');
    // A browser known to another account only.
    const others = newBrowser();
    await signIn(others, (await startAuthorization(config, { scope: 'openid' })).url, { email: 'other@example.com', password: 'the other passphrase' });
    expect(page(await submitLogin(others, await loginPage(others), 'owner@example.com', password)).status).toBe(429);
    // The owner's cookie value without its signature.
    const forged = newBrowser();
    const ownerCookies = await owner.jar.getCookies(`${idp.issuer}/interaction/x`);
    const device = ownerCookies.find((cookie) => cookie.key === 'known_device')!;
    expect(device.httpOnly).toBe(true);
    await forged.jar.setCookie(`known_device=${device.value}; Path=/interaction`, idp.issuer);
    expect(page(await submitLogin(forged, await loginPage(forged), 'owner@example.com', password)).status).toBe(429);
  });

  it('leaves a passkey, Google and a mailed reset link open to the owner while the email is locked', async () => {
    await lockFrom(newBrowser(), 'owner@example.com');

    // A passkey, from a fresh browser.
    const withPasskey = newBrowser();
    const login = await loginPage(withPasskey);
    const form = 'form[action$="/passkey"]';
    const options = await ceremonyOptions(withPasskey, login, form);
    const byPasskey = await backAtApp(withPasskey, await withPasskey.submit(login, form, { response: JSON.stringify(ownersPasskeys.authenticate(options as never)) }));
    expect(byPasskey?.searchParams.get('code')).toBeTruthy();

    // Google, whose verified address is the account's.
    google.addAccount('g-owner', { email: 'owner@example.com', email_verified: true, name: 'Owner' });
    google.signInAs('g-owner');
    const withGoogle = newBrowser();
    const googleLogin = await loginPage(withGoogle);
    const byGoogle = await backAtApp(withGoogle, await withGoogle.submit(googleLogin, 'form[action$="/google"]'), ownersPasskeys);
    expect(byGoogle?.searchParams.get('code')).toBeTruthy();

    // A reset link: the new password then works from anywhere, as the lock is lifted.
    const withMail = newBrowser();
    const forgot = await withMail.open(`${idp.issuer}/account/forgot-password`);
    await withMail.submit(forgot, 'form', { email: 'owner@example.com' });
    const link = linkIn(await smtp.waitFor('owner@example.com', /Reset your password/), '/account/reset-password?token=');
    const reset = await withMail.open(link);
    const done = page(await withMail.submit(reset, 'form', { password: 'a new owner passphrase', password_confirmation: 'a new owner passphrase' }));
    expect(done.$('h1').text()).toBe('Your password was changed');
    // The reset removed the passkey (not ticked to keep), so the password alone signs in.
    const anywhere = newBrowser();
    const afterReset = await backAtApp(anywhere, await submitLogin(anywhere, await loginPage(anywhere), 'owner@example.com', 'a new owner passphrase'));
    expect(afterReset?.searchParams.get('code')).toBeTruthy();
  });
});
