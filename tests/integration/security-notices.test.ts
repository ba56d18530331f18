import * as oidc from 'openid-client';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Browser, ceremonyOptions, type Navigation, page, type Page } from '../support/browser.ts';
import { adminCliClient, backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { freePort } from '../support/ports.ts';
import { newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';
import { linkIn, type ReceivedMail, startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { SoftAuthenticator } from '../support/soft-authenticator.ts';

const FIREFOX_ON_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0';
const CLI_REDIRECT = 'http://127.0.0.1:53682/callback';
const backend = backends.at(-1)!;



describe(`security notices, reset clean-up and links bound to the address (${backend}, issuer http://localhost, real SMTP)`, () => {
  let idp: TestIdp;
  let smtp: TestSmtpServer;
  let config: oidc.Configuration;
  let adminToken: string;
  let counter = 0;

  /** A person signed in to the web app from Firefox on Linux, with a passkey authenticator of their own. */
  async function signedInPerson() {
    counter += 1;
    const email = `nora${counter}@example.com`;
    const password = `nora password ${counter} long`;
    const account = await idp.idp.accounts.createAccount({ email, password, emailVerified: true });
    const browser = newBrowser();
    browser.userAgent = FIREFOX_ON_LINUX;
    await signIn(browser, (await startAuthorization(config)).url, { email, password });
    return { id: account.id, email, password, browser, authenticator: new SoftAuthenticator('localhost', idp.issuer) };
  }

  const accountPage = (browser: Browser) => browser.open(`${idp.issuer}/account/security`);

  async function addPasskey(person: { browser: Browser; authenticator: SoftAuthenticator }, name: string) {
    const account = await accountPage(person.browser);
    const form = 'form[action="/account/passkeys"]';
    const options = await ceremonyOptions(person.browser, account, form);
    const added = page(await person.browser.submit(account, form, { response: JSON.stringify(person.authenticator.register(options)), name }));
    expect(added.$('.notice').text()).toContain('Your passkey is added');
    return person.authenticator.passkeys.at(-1)!;
  }

  /** Signs in with a passkey alone from a fresh browser; true when the app gets its callback. */
  async function passkeySignsIn(authenticator: SoftAuthenticator, passkey: SoftAuthenticator['passkeys'][number]) {
    const browser = newBrowser();
    const login = await browser.open((await startAuthorization(config, { scope: 'openid' })).url.href);
    const form = 'form[action$="/passkey"]';
    let step = await browser.submit(login, form, { response: JSON.stringify(authenticator.authenticate(await ceremonyOptions(browser, login, form), passkey)) });
    while (step.page?.$('form[action$="/confirm"]').length) step = await browser.submit(step.page, 'form[action$="/confirm"]');
    return step.leftTo !== undefined;
  }

  /** The one message to this address: it arrived, and nothing else did once every mail was sent. */
  async function onlyNotice(to: string, subject: RegExp): Promise<ReceivedMail> {
    const mail = await smtp.waitFor(to, subject);
    await idp.idp.mailer.drain();
    expect(smtp.to(to).map((other) => other.subject)).toEqual([]);
    return mail;
  }

  /** Says when (in UTC) and how to secure the account, and holds no link with a token. */
  function expectFactsWithoutSecrets(mail: ReceivedMail, secrets: string[] = []) {
    expect(mail.text).toMatch(/When: \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect(linkIn(mail, '/account/forgot-password')).toBe(`${idp.issuer}/account/forgot-password`);
    for (const body of [mail.text, mail.html]) {
      expect(body).not.toMatch(/token=/);
      for (const secret of secrets) expect(body).not.toContain(secret);
    }
  }

  const fromThisBrowser = 'From: Firefox on Linux at IP address 127.0.0.1';

  async function admin(method: string, route: string, body?: unknown) {
    const response = await fetch(`${idp.issuer}/admin/api${route}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    expect(response.status, `${method} ${route}`).toBeLessThan(300);
  }

  beforeAll(async () => {
    smtp = await startSmtpServer();
    idp = await startTestIdp({ backend, issuerHost: 'localhost', env: { SMTP_URL: smtp.url } });
    config = await relyingParty(idp.issuer, webAppClient);
    await idp.idp.accounts.createAccount({ email: 'boss@example.com', password: 'boss passphrase 1', roles: ['super_admin'], emailVerified: true });
    const cli = await relyingParty(idp.issuer, adminCliClient);
    const start = await startAuthorization(cli, { redirect_uri: CLI_REDIRECT, scope: 'openid admin', resource: `${idp.issuer}/admin/api` });
    const callback = await signIn(new Browser([CLI_REDIRECT]), start.url, { email: 'boss@example.com', password: 'boss passphrase 1' });
    adminToken = (await oidc.authorizationCodeGrant(cli, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce })).access_token;
  });
  afterAll(async () => {
    await idp?.destroy();
    await smtp?.close();
  });

  it('a password change on the account page mails the owner one notice: what, when, from where, and how to secure the account', async () => {
    const person = await signedInPerson();
    const newPassword = 'a fresh password for nora';
    await person.browser.submit(await accountPage(person.browser), 'form[action="/account/password"]', {
      current_password: person.password,
      password: newPassword,
      password_confirmation: newPassword,
    });
    const notice = await onlyNotice(person.email, /^Your password was changed$/);
    expect(notice.text).toContain('The password of your account was changed.');
    expect(notice.text).toContain(fromThisBrowser);
    expect(notice.html).toContain(`href="${idp.issuer}/account"`);
    expectFactsWithoutSecrets(notice, [newPassword, person.password]);
  });

  it('turning the authenticator app on, replacing the recovery codes and turning the app off each mail one notice, without the secret or a code', async () => {
    const person = await signedInPerson();
    const setup = await person.browser.open(`${idp.issuer}/account/two-step/setup`);
    const secret = setup.$('code.secret').text();
    const codesPage = page(await person.browser.submit(setup, 'form[action="/account/two-step/setup"]', { code: await generate({ secret }) }));
    const firstCodes = codesPage.$('.recovery-codes code').map((_i, element) => codesPage.$(element).text()).get();
    expect(firstCodes).toHaveLength(10);
    const on = await onlyNotice(person.email, /^Two-step sign-in was turned on$/);
    expect(on.text).toContain(fromThisBrowser);
    expectFactsWithoutSecrets(on, [secret, ...firstCodes]);

    const renewed = page(await person.browser.submit(await accountPage(person.browser), 'form[action="/account/two-step/recovery-codes"]'));
    const newCodes = renewed.$('.recovery-codes code').map((_i, element) => renewed.$(element).text()).get();
    expectFactsWithoutSecrets(await onlyNotice(person.email, /^Your recovery codes were replaced$/), [secret, ...newCodes]);

    const removed = page(await person.browser.submit(await accountPage(person.browser), 'form[action="/account/two-step/remove"]'));
    expect(removed.status).toBe(200);
    expectFactsWithoutSecrets(await onlyNotice(person.email, /^Two-step sign-in with an app was turned off$/), [secret]);
  });

  it('adding and removing a passkey each mail one notice naming the passkey', async () => {
    const person = await signedInPerson();
    await addPasskey(person, 'Planted key');
    const added = await onlyNotice(person.email, /^A passkey was added to your account$/);
    expect(added.text).toContain('The passkey Planted key was added');
    expect(added.text).toContain(fromThisBrowser);
    expectFactsWithoutSecrets(added, [person.authenticator.passkeys[0]!.id]);

    await person.browser.submit(await accountPage(person.browser), 'form[action="/account/passkeys/remove"]');
    expect((await onlyNotice(person.email, /^A passkey was removed from your account$/)).text).toContain('The passkey Planted key was removed');
  });

  it('an email change request tells the current address, with the new address but not the confirmation link', async () => {
    const person = await signedInPerson();
    const newEmail = `moved-${person.email}`;
    await person.browser.submit(await accountPage(person.browser), 'form[action="/account/email"]', { email: newEmail, email_password: person.password });
    const confirmation = linkIn(await smtp.waitFor(newEmail, /Confirm your new email/), '/account/confirm-email');
    const notice = await onlyNotice(person.email, /^Your email address is being changed$/);
    expect(notice.text).toContain(newEmail);
    expect(notice.text).toContain(fromThisBrowser);
    expectFactsWithoutSecrets(notice, [new URL(confirmation).searchParams.get('token')!]);
  });

  it('changes an administrator makes are mailed to the person, saying an administrator made them; an email change goes to the old address', async () => {
    const person = await signedInPerson();
    await addPasskey(person, 'Laptop');
    await smtp.waitFor(person.email, /passkey was added/);

    await admin('DELETE', `/users/${person.id}/second-factors`);
    const reset = await onlyNotice(person.email, /^Your second sign-in steps were removed$/);
    expect(reset.text).toContain('By: an administrator of this service.');
    expect(reset.text).not.toContain('IP address');

    await admin('POST', `/users/${person.id}/password-reset`);
    const resetLink = linkIn(await smtp.waitFor(person.email, /^Reset your password$/), '/account/reset-password?token=');
    expectFactsWithoutSecrets(await onlyNotice(person.email, /^A password reset was started for your account$/), [new URL(resetLink).searchParams.get('token')!]);

    const newEmail = `admin-set-${person.email}`;
    await admin('PATCH', `/users/${person.id}`, { email: newEmail });
    const moved = await onlyNotice(person.email, /^Your email address was changed$/);
    expect(moved.text).toContain(`changed to ${newEmail}`);
    expect(moved.text).toContain('By: an administrator');
    await idp.idp.mailer.drain();
    expect(smtp.to(newEmail)).toEqual([]);

    await admin('POST', `/users/${person.id}/disable`);
    const disabled = await onlyNotice(newEmail, /^Your account was disabled$/);
    expect(disabled.text).toContain('By: an administrator');
    expect(disabled.text).not.toContain('/account/forgot-password');
  });

  it('a passkey planted before a reset no longer signs in after a reset where the owner did not keep it; the kept one does, and both are audited', async () => {
    const person = await signedInPerson();
    const own = await addPasskey(person, 'My phone');
    // The attacker, with the victim's session, adds a passkey of their own and links their identity.
    const attacker = new SoftAuthenticator('localhost', idp.issuer);
    const planted = await addPasskey({ browser: person.browser, authenticator: attacker }, 'Attacker key');
    await idp.idp.database.db.insertInto('federated_identities').values({ provider: 'google', subject: 'attacker-sub', account_id: person.id, email: 'attacker@example.com' }).execute();
    expect(await passkeySignsIn(attacker, planted)).toBe(true);
    await idp.idp.mailer.drain();
    smtp.received.splice(0);

    const owner = newBrowser();
    await owner.submit(await owner.open(`${idp.issuer}/account/forgot-password`), 'form[action="/account/forgot-password"]', { email: person.email });
    const link = linkIn(await smtp.waitFor(person.email, /^Reset your password$/), '/account/reset-password?token=');
    const resetPage = await owner.open(link);
    const keep = resetPage.$('input[type=checkbox]');
    expect(keep.map((_i, element) => resetPage.$(element).attr('name')).get()).toEqual(['keep_passkey', 'keep_passkey', 'keep_identity']);
    expect(keep.filter('[checked]')).toHaveLength(0);
    expect(resetPage.$('fieldset.keep').text()).toContain('Attacker key');
    expect(resetPage.$('fieldset.keep').text()).toContain('attacker@example.com');

    // A refused try keeps what was ticked.
    const retry = page(await owner.submit(resetPage, 'form[action="/account/reset-password"]', { password: 'owner takes it back 1', password_confirmation: 'something else', keep_passkey: own.id }));
    expect(retry.status).toBe(400);
    expect(retry.$('input[name=keep_passkey][checked]').map((_i, element) => retry.$(element).attr('value')).get()).toEqual([own.id]);

    const done = page(await owner.submit(retry, 'form[action="/account/reset-password"]', { password: 'owner takes it back 1', password_confirmation: 'owner takes it back 1' }));
    expect(done.$('h1').text()).toBe('Your password was changed');

    expect(await passkeySignsIn(attacker, planted)).toBe(false);
    expect(await passkeySignsIn(person.authenticator, own)).toBe(true);
    expect(await idp.idp.database.db.selectFrom('federated_identities').select('subject').where('account_id', '=', person.id).execute()).toEqual([]);
    const audited = await idp.idp.database.db
      .selectFrom('audit_events')
      .select(['action', 'changes'])
      .where('target_id', '=', person.id)
      .where('action', 'in', ['mfa.passkey.removed', 'account.identity.removed'])
      .execute();
    expect(audited).toEqual(
      expect.arrayContaining([
        { action: 'mfa.passkey.removed', changes: { name: 'Attacker key', reason: 'password reset' } },
        { action: 'account.identity.removed', changes: { provider: 'google', reason: 'password reset' } },
      ]),
    );
    expect(audited).toHaveLength(2);
    const notice = await onlyNotice(person.email, /^Your password was changed$/);
    expect(notice.text).toContain('every device was signed out');
    expect(notice.text).toContain('Removed with the reset: Attacker key, Google.');
  });

  it('a reset link dies when the account page changes the email address: the old link shows a readable page', async () => {
    const person = await signedInPerson();
    const stranger = newBrowser();
    await stranger.submit(await stranger.open(`${idp.issuer}/account/forgot-password`), 'form[action="/account/forgot-password"]', { email: person.email });
    const link = linkIn(await smtp.waitFor(person.email, /^Reset your password$/), '/account/reset-password?token=');
    const resetPage = await stranger.open(link);
    expect(resetPage.status).toBe(200);

    const newEmail = `elsewhere-${person.email}`;
    await person.browser.submit(await accountPage(person.browser), 'form[action="/account/email"]', { email: newEmail, email_password: person.password });
    const confirmPage = await person.browser.open(linkIn(await smtp.waitFor(newEmail, /Confirm your new email/), '/account/confirm-email'));
    await person.browser.submit(confirmPage, 'form[action="/account/confirm-email"]');

    const dead = await stranger.open(link);
    expect(dead.status).toBe(400);
    expect(dead.$('h1').text()).toBe('This link no longer works');
    expect(dead.$('p').first().text()).toContain('email address has changed');
    const used = page(await stranger.submit(resetPage, 'form[action="/account/reset-password"]', { password: 'taken over at last 1', password_confirmation: 'taken over at last 1' }));
    expect(used.status).toBe(400);
    expect(used.$('h1').text()).toBe('This link no longer works');
    // The owner still signs in with the old password at the new address.
    await signIn(newBrowser(), (await startAuthorization(config)).url, { email: newEmail, password: person.password });
  });

  it('a reset link dies when an administrator changes the email address, even once it is changed back', async () => {
    const person = await signedInPerson();
    const stranger = newBrowser();
    await stranger.submit(await stranger.open(`${idp.issuer}/account/forgot-password`), 'form[action="/account/forgot-password"]', { email: person.email });
    const reset = linkIn(await smtp.waitFor(person.email, /^Reset your password$/), '/account/reset-password?token=');

    await admin('PATCH', `/users/${person.id}`, { email: `admin-moved-${person.email}` });
    expect((await stranger.open(reset)).status).toBe(400);
    await admin('PATCH', `/users/${person.id}`, { email: person.email });
    const dead = await stranger.open(reset);
    expect(dead.status).toBe(400);
    expect(dead.$('h1').text()).toBe('This link no longer works');
    const left = await idp.idp.database.db.selectFrom('email_tokens').select('purpose').where('account_id', '=', person.id).where('used_at', 'is', null).execute();
    expect(left).toEqual([]);
  });
  it('a verification link dies when an administrator changes the address it was sent to', async () => {
    const browser = newBrowser();
    const login = await browser.open((await startAuthorization(config)).url.href);
    const register = await browser.open(new URL(login.$('a:contains("Create an account")').attr('href')!, login.url).href);
    await browser.submit(register, 'form', { email: 'vera@example.com', password: 'vera passphrase 42', password_confirmation: 'vera passphrase 42' });
    const link = linkIn(await smtp.waitFor('vera@example.com', /^Confirm your email address$/), '/account/verify-email?token=');
    const confirmPage = await newBrowser().open(link);
    expect(confirmPage.status).toBe(200);

    const { id } = await idp.idp.database.db.selectFrom('accounts').select('id').where('email', '=', 'vera@example.com').executeTakeFirstOrThrow();
    await admin('PATCH', `/users/${id}`, { email: 'vera.admin-set@example.com' });
    const dead = await newBrowser().open(link);
    expect(dead.status).toBe(400);
    expect(dead.$('h1').text()).toBe('This link no longer works');
    const account = await idp.idp.database.db.selectFrom('accounts').select('email_verified').where('id', '=', id).executeTakeFirstOrThrow();
    expect(account.email_verified).toBe(false);
  });
});

describe('a security notice that cannot be sent (pglite, SMTP server down)', () => {
  let idp: TestIdp;
  beforeAll(async () => {
    idp = await startTestIdp({ backend: 'pglite', env: { SMTP_URL: `smtp://127.0.0.1:${await freePort()}` } });
  });
  afterAll(() => idp?.destroy());

  it('does not fail the change: the password is changed, the failure is logged and counted, and the log holds no password', async () => {
    await idp.idp.accounts.createAccount({ email: 'olga@example.com', password: 'olga password long 1', emailVerified: true });
    const config = await relyingParty(idp.issuer, webAppClient);
    const browser = newBrowser();
    await signIn(browser, (await startAuthorization(config)).url, { email: 'olga@example.com', password: 'olga password long 1' });
    const changed = page(
      await browser.submit(await browser.open(`${idp.issuer}/account/security`), 'form[action="/account/password"]', {
        current_password: 'olga password long 1',
        password: 'olga changed it long 2',
        password_confirmation: 'olga changed it long 2',
      }),
    );
    expect(changed.status).toBe(200);
    expect(changed.$('.notice').text()).toContain('password is changed');
    await idp.idp.mailer.drain();
    expect(idp.logs.raw).toContain('mail failed');
    expect(idp.logs.raw).not.toContain('olga changed it long 2');
    expect(await (await fetch(`${idp.issuer}/metrics`)).text()).toMatch(/mail_messages_total\{outcome="failed"\} [1-9]/);
    await signIn(newBrowser(), (await startAuthorization(config)).url, { email: 'olga@example.com', password: 'olga changed it long 2' });
  });
});
