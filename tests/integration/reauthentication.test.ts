import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Browser, type Navigation, page, type Page } from '../support/browser.ts';
import { type FakeGoogle, startFakeGoogle } from '../support/fake-google.ts';
import { backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { onReauthPage, reauthenticate, stolenSession } from '../support/reauth.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';
import { SoftAuthenticator } from '../support/soft-authenticator.ts';

const backend = backends.at(-1)!;
/** Short, so that a test can outlast it (sign-ins count in whole seconds: one more, to be sure). */
const MAX_AGE = 5;
const outlastTheWindow = () => new Promise((resolve) => setTimeout(resolve, (MAX_AGE + 1) * 1000 + 200));


/** What the passkey script does first: POST for the ceremony's options with the form's CSRF token. */
function askForOptions(browser: Browser, current: Page, form: string) {
  const csrf = current.$(`${form} input[name=_csrf]`).attr('value')!;
  return browser.fetch(new URL(current.$(form).attr('data-options')!, current.url).href, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ _csrf: csrf }).toString(),
  });
}

describe(`re-authentication for sensitive changes (${backend})`, () => {
  let idp: TestIdp;
  let google: FakeGoogle;
  let config: Awaited<ReturnType<typeof relyingParty>>;
  let counter = 0;

  /** A new person signed in with their password in a browser of their own; the app holds a token with the account scope. */
  async function signedInPerson() {
    counter += 1;
    const email = `rae${counter}@example.com`;
    const password = `rae password ${counter} long`;
    const { id } = await idp.idp.accounts.createAccount({ email, password, emailVerified: true });
    const browser = newBrowser();
    const start = await startAuthorization(config, { scope: 'openid email account' });
    const tokens = await exchangeCode(config, await signIn(browser, start.url, { email, password }), start);
    return { id, email, password, browser, tokens };
  }

  /** Sets up an authenticator app behind the person's back (as if done earlier); returns its recovery codes. */
  async function withAuthenticatorApp(person: { id: string; email: string }) {
    const { secret } = await idp.idp.secondFactors.startTotp(person.id, person.email);
    return idp.idp.secondFactors.confirmTotp(person.id, await idp.idp.secondFactors.currentCode(secret), null);
  }

  const accountRow = (id: string) => idp.idp.database.db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const identities = (id: string) => idp.idp.database.db.selectFrom('federated_identities').selectAll().where('account_id', '=', id).execute();

  beforeAll(async () => {
    google = await startFakeGoogle();
    idp = await startTestIdp({
      backend,
      issuerHost: 'localhost',
      env: { REAUTH_MAX_AGE: String(MAX_AGE), GOOGLE_CLIENT_ID: google.clientId, GOOGLE_CLIENT_SECRET: google.clientSecret, GOOGLE_ISSUER: google.issuer },
    });
    google.register(`${idp.issuer}/interaction/callback/google`);
    config = await relyingParty(idp.issuer, webAppClient);
  });
  afterAll(async () => {
    await idp?.destroy();
    await google?.stop().catch(() => {});
  });

  it('a stolen session cookie adds no passkey, replaces no codes, and changes no sign-in method, email, password or the account', async () => {
    const victim = await signedInPerson();
    const recoveryCodes = await withAuthenticatorApp(victim);
    await idp.idp.database.db.insertInto('federated_identities').values({ provider: 'google', subject: `g-victim-${counter}`, account_id: victim.id, email: victim.email }).execute();
    await outlastTheWindow();

    const thief = await stolenSession(victim.browser, idp.issuer);
    const account = await thief.open(`${idp.issuer}/account/security`);
    expect(account.status).toBe(200);

    const options = await askForOptions(thief, account, 'form[action="/account/passkeys"]');
    expect(options.status).toBe(401);
    expect(await options.json()).toEqual({ error: 'reauthentication_required', location: '/account/reauth?return_to=%2Faccount%2Fsecurity%23methods-title' });
    const attempts: [string, Record<string, string>][] = [
      ['/account/passkeys', { response: JSON.stringify({ id: 'attacker', type: 'public-key', response: {} }), name: 'mine now' }],
      ['/account/two-step/recovery-codes', {}],
      ['/account/two-step/remove', {}],
      ['/account/email', { email: 'thief@example.com' }],
      ['/account/google/unlink', {}],
      ['/account/password', { current_password: 'a guess', password: 'thief password 12345', password_confirmation: 'thief password 12345' }],
      ['/account/delete', {}],
    ];
    for (const [action, fields] of attempts) {
      const from = action === '/account/delete' ? await thief.open(`${idp.issuer}/account/delete`) : account;
      const step = await thief.submit(from, `form[action="${action}"]`, fields);
      expect(onReauthPage(step), action).toBe(true);
    }
    expect(onReauthPage(await thief.navigate(`${idp.issuer}/account/two-step/setup`))).toBe(true);
    // Linking the thief's own Google account (no form on the page: the victim's is linked) is refused the same way.
    const csrf = account.$('input[name=_csrf]').first().attr('value')!;
    const link = await thief.navigate(`${idp.issuer}/account/google/link`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
    });
    expect(onReauthPage(link)).toBe(true);

    // Guessing at the re-authentication page gets nowhere, and is recorded.
    const guess = page(await reauthenticate(thief, idp.issuer, { password: 'a guess', code: '123456' }));
    expect(guess.status).toBe(400);
    const denied = await idp.idp.database.db.selectFrom('audit_events').select('changes').where('action', '=', 'account.reauthenticate').where('outcome', '=', 'denied').where('target_id', '=', victim.id).execute();
    expect(denied).toHaveLength(1);

    // Nothing changed: the owner's password and original recovery codes still confirm it is them.
    expect(await idp.idp.secondFactors.status(victim.id)).toEqual({ totp: true, recoveryCodesLeft: 10, passkeys: 0 });
    expect(await accountRow(victim.id)).toMatchObject({ email: victim.email, deleted_at: null });
    expect(await identities(victim.id)).toHaveLength(1);
    const owner = page(await reauthenticate(victim.browser, idp.issuer, { password: victim.password, code: recoveryCodes[0]! }));
    expect(owner.$('.notice').text()).toBe('You confirmed it is you. Submit your change again.');
  });

  it('after re-authenticating the person is back where they were and the change works, until the window passes', async () => {
    const person = await signedInPerson();
    const recoveryCodes = await withAuthenticatorApp(person);
    await outlastTheWindow();
    const account = await person.browser.open(`${idp.issuer}/account/security`);
    const sent = await person.browser.submit(account, 'form[action="/account/two-step/recovery-codes"]');
    expect(onReauthPage(sent)).toBe(true);
    const reauth = page(sent);
    expect(reauth.$('input[name="return_to"]').first().attr('value')).toBe('/account/security#methods-title');

    // A wrong password and a wrong code read the same.
    const wrongPassword = page(await reauthenticate(person.browser, idp.issuer, { password: 'not the password', code: recoveryCodes[0]! }, reauth));
    const wrongCode = page(await reauthenticate(person.browser, idp.issuer, { password: person.password, code: '000000' }, reauth));
    expect([wrongPassword.status, wrongCode.status]).toEqual([400, 400]);
    expect(wrongPassword.$('#reauth-error').text()).toBe('That did not confirm it is you. Check your password and code, and try again.');
    expect(wrongCode.$('#reauth-error').text()).toBe(wrongPassword.$('#reauth-error').text());

    const back = page(await reauthenticate(person.browser, idp.issuer, { password: person.password, code: recoveryCodes[0]! }, reauth));
    expect(new URL(back.url).pathname).toBe('/account/security');
    expect(back.$('.notice').text()).toBe('You confirmed it is you. Submit your change again.');
    const codes = page(await person.browser.submit(back, 'form[action="/account/two-step/recovery-codes"]'));
    expect(codes.$('.recovery-codes code')).toHaveLength(10);

    await outlastTheWindow();
    const later = await person.browser.submit(await person.browser.open(`${idp.issuer}/account/security`), 'form[action="/account/two-step/remove"]');
    expect(onReauthPage(later)).toBe(true);
    expect((await idp.idp.secondFactors.status(person.id)).totp).toBe(true);

    // A page (not a form) is returned to as it was; nothing outside the account page is a place to return to.
    expect(onReauthPage(await person.browser.navigate(`${idp.issuer}/account/two-step/setup`))).toBe(true);
    const codesLeft = codes.$('.recovery-codes code').map((_i, element) => codes.$(element).text()).get();
    const setup = page(await reauthenticate(person.browser, idp.issuer, { password: person.password, code: codesLeft[0]! }, page(await person.browser.navigate(`${idp.issuer}/account/two-step/setup`))));
    expect(new URL(setup.url).pathname).toBe('/account/two-step/setup');
    const elsewhere = await person.browser.open(`${idp.issuer}/account/reauth?return_to=${encodeURIComponent('https://evil.example/')}`);
    expect(elsewhere.$('input[name="return_to"]').first().attr('value')).toBe('/account');
  });

  it('wrong passwords at the re-authentication page lock like wrong sign-ins, no more', async () => {
    const person = await signedInPerson();
    await outlastTheWindow();
    const reauth = await person.browser.open(`${idp.issuer}/account/reauth`);
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 5; attempt += 1) statuses.push(page(await reauthenticate(person.browser, idp.issuer, { password: `wrong guess ${attempt}` }, reauth)).status);
    expect(statuses).toEqual([400, 400, 400, 400, 429]);
    const locked = page(await reauthenticate(person.browser, idp.issuer, { password: person.password }, reauth));
    expect(locked.status).toBe(429);
    expect(locked.$('#reauth-error').text()).toContain('Too many failed sign-ins for this email');
    const denied = await idp.idp.database.db.selectFrom('audit_events').select('changes').where('action', '=', 'account.reauthenticate').where('outcome', '=', 'denied').where('target_id', '=', person.id).orderBy('id').execute();
    expect(denied.map((row) => (row.changes as { reason: string }).reason)).toEqual(['wrong', 'wrong', 'wrong', 'wrong', 'locked', 'locked']);
  });

  it('a user-verified passkey re-authenticates; the password alone does not when a passkey is the second factor', async () => {
    const person = await signedInPerson();
    const authenticator = new SoftAuthenticator('localhost', idp.issuer);
    const fresh = await person.browser.open(`${idp.issuer}/account/security`);
    const registration = await askForOptions(person.browser, fresh, 'form[action="/account/passkeys"]');
    expect(registration.status).toBe(200);
    const added = page(await person.browser.submit(fresh, 'form[action="/account/passkeys"]', { response: JSON.stringify(authenticator.register(await registration.json())), name: 'Laptop' }));
    expect(added.$('.notice').text()).toContain('passkey is added');
    await outlastTheWindow();

    expect((await askForOptions(person.browser, await person.browser.open(`${idp.issuer}/account/security`), 'form[action="/account/passkeys"]')).status).toBe(401);
    const reauth = await person.browser.open(`${idp.issuer}/account/reauth?return_to=${encodeURIComponent('/account/security#methods-title')}`);
    expect(reauth.$('form[action="/account/reauth"]')).toHaveLength(0);
    const withoutUv = new SoftAuthenticator('localhost', idp.issuer, false);
    withoutUv.passkeys.push(...authenticator.passkeys);
    const unverified = page(await person.browser.submit(reauth, 'form[action="/account/reauth/passkey"]', { response: JSON.stringify(withoutUv.authenticate(await (await askForOptions(person.browser, reauth, 'form[action="/account/reauth/passkey"]')).json())) }));
    expect(unverified.status).toBe(400);

    const options = await (await askForOptions(person.browser, reauth, 'form[action="/account/reauth/passkey"]')).json();
    expect(options.userVerification).toBe('required');
    const back = page(await person.browser.submit(reauth, 'form[action="/account/reauth/passkey"]', { response: JSON.stringify(authenticator.authenticate(options)) }));
    expect(back.$('.notice').text()).toBe('You confirmed it is you. Submit your change again.');
    const removed = page(await person.browser.submit(back, 'form[action="/account/passkeys/remove"]'));
    expect(removed.$('.notice').text()).toBe('The passkey is removed.');
  });

  it('an account without a password re-authenticates with a fresh Google sign-in, not an old one', async () => {
    google.addAccount('g-reauth', { email: 'gina@gmail.test', email_verified: true, name: 'Gina' });
    google.signInAs('g-reauth');
    const browser = newBrowser();
    const start = await startAuthorization(config);
    const login = await browser.open(start.url.href);
    let step = await browser.submit(login, 'form[action$="/google"]');
    while (step.page?.$('form[action$="/confirm"]').length) step = await browser.submit(step.page, 'form[action$="/confirm"]');
    expect(step.leftTo).toBeDefined();
    await outlastTheWindow();

    const account = await browser.open(`${idp.issuer}/account/security`);
    const sent = await browser.submit(account, 'form[action="/account/email"]', { email: 'gina.new@example.com' });
    expect(onReauthPage(sent)).toBe(true);
    expect(page(sent).$('form[action="/account/reauth"]')).toHaveLength(0);

    // Google answers with a sign-in from before it was asked: its session, not a new sign-in.
    google.tamperIdTokens((claims) => ({ ...claims, auth_time: Math.floor(Date.now() / 1000) - 3600 }));
    google.signInAs('g-reauth');
    const stale = page(await browser.submit(page(sent), 'form[action="/account/reauth/google"]'));
    google.tamperIdTokens(undefined);
    expect(stale.status).toBe(400);
    expect(stale.$('#reauth-error').text()).toBe('Google did not ask you to sign in again. Try again.');

    google.signInAs('g-reauth');
    const back = page(await browser.submit(stale, 'form[action="/account/reauth/google"]'));
    expect(back.$('.notice').text()).toBe('You confirmed it is you. Submit your change again.');
    const changed = page(await browser.submit(back, 'form[action="/account/email"]', { email: 'gina.new@example.com' }));
    expect(changed.$('.notice').text()).toContain('Check the new address');
  });

  it('the account API refuses a deletion without a recent sign-in with RFC 9470 step-up, and allows it after one', async () => {
    const person = await signedInPerson();
    await outlastTheWindow();
    const deleteMe = (token: string) => fetch(`${idp.issuer}/account/api/me`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });

    const refused = await deleteMe(person.tokens.access_token);
    expect(refused.status).toBe(401);
    const description = `a sign-in within the last ${MAX_AGE} seconds is required`;
    expect(refused.headers.get('www-authenticate')).toBe(`Bearer realm="account", error="insufficient_user_authentication", error_description="${description}", max_age=${MAX_AGE}`);
    expect(await refused.json()).toEqual({ error: 'insufficient_user_authentication', error_description: description, max_age: MAX_AGE });
    expect((await accountRow(person.id)).deleted_at).toBeNull();

    // The app runs the authorization again with max_age: the person signs in again, in the same session.
    const start = await startAuthorization(config, { scope: 'openid email account', max_age: String(MAX_AGE) });
    const tokens = await exchangeCode(config, await signIn(person.browser, start.url, person), start);
    expect((await deleteMe(tokens.access_token)).status).toBe(204);
    expect((await accountRow(person.id)).deleted_at).not.toBeNull();
  });
});
