import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createAccountAdministration, PasskeyChallengeError } from '../../src/accounts/index.ts';
import { type Browser, ceremonyOptions, type Navigation, page, type Page } from '../support/browser.ts';
import { startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization, submitLogin } from '../support/rp.ts';
import { SoftAuthenticator } from '../support/soft-authenticator.ts';

const password = 'passkey person password 1';



/** Then it posts the form with the authenticator's answer. */
const submitAnswer = (browser: Browser, current: Page, form: string, answer: unknown, fields: Record<string, string> = {}) =>
  browser.submit(current, form, { response: JSON.stringify(answer), ...fields });

/** Consents when asked and returns where the browser was sent back to the app. */
async function callbackAfter(browser: Browser, step: Navigation): Promise<URL> {
  let current = step;
  while (current.page?.$('form[action$="/confirm"]').length) current = await browser.submit(current.page, 'form[action$="/confirm"]');
  if (!current.leftTo) throw new Error(`expected a return to the app, got ${current.page?.status} ${current.page?.$('h1').text()}: ${current.page?.$('.alert').text()}`);
  return current.leftTo;
}

const deniedAudit = (idp: TestIdp, action: string) =>
  idp.idp.database.db.selectFrom('audit_events').select(['actor_id', 'target_id', 'changes']).where('action', '=', action).where('outcome', '=', 'denied').execute();

describe('passkeys (pglite, issuer http://localhost)', () => {
  let idp: TestIdp;
  let config: Awaited<ReturnType<typeof relyingParty>>;
  let counter = 0;

  /** A new person, signed in with their password in a browser of their own. */
  async function signedInPerson(options: { roles?: string[] } = {}) {
    counter += 1;
    const email = `pat${counter}@example.com`;
    const account = await idp.idp.accounts.createAccount({ email, password, emailVerified: true, ...(options.roles ? { roles: options.roles } : {}) });
    const browser = newBrowser();
    const authenticator = new SoftAuthenticator('localhost', idp.issuer);
    return { email, id: account.id, browser, authenticator };
  }

  /** A new person, signed in, on their account page. */
  async function onAccountPage() {
    const person = await signedInPerson();
    await signIn(person.browser, (await startAuthorization(config)).url, { email: person.email, password });
    return { person, account: await person.browser.open(`${idp.issuer}/account/security`) };
  }

  const passkeyNames = (current: Page) => current.$('.passkey-name').map((_i, element) => current.$(element).text()).get();

  const doneActions = async (actorId: string) =>
    (await idp.idp.database.db.selectFrom('audit_events').select('action').where('actor_id', '=', actorId).where('outcome', '=', 'done').execute()).map((row) => row.action);

  /** The account page's passkey form, answered by the person's authenticator; `challenge` replaces the one asked for. */
  async function registerPasskey(person: { browser: Browser; authenticator: SoftAuthenticator }, current: Page, fields: Record<string, string> = {}, challenge?: string) {
    const options = await ceremonyOptions(person.browser, current, 'form[action="/account/passkeys"]');
    const answer = person.authenticator.register(challenge ? { ...options, challenge } : options);
    return { options, after: page(await submitAnswer(person.browser, current, 'form[action="/account/passkeys"]', answer, fields)) };
  }

  /** Adds a passkey from the account page; returns the page after. */
  async function addPasskey(person: { browser: Browser; authenticator: SoftAuthenticator }, name: string) {
    const account = await person.browser.open(`${idp.issuer}/account/security`);
    return (await registerPasskey(person, account, { name })).after;
  }

  /** Password first, from the web app; returns the page after it and how to finish. */
  async function passwordStep(person: { email: string; browser: Browser }) {
    const start = await startAuthorization(config, { scope: 'openid' });
    const login = await person.browser.open(start.url.href);
    return { start, next: await submitLogin(person.browser, login, person.email, password) };
  }

  beforeAll(async () => {
    idp = await startTestIdp({ backend: 'pglite', issuerHost: 'localhost', env: { MFA: 'required-for-admins', LOGIN_MAX_FAILURES: '3' } });
    config = await relyingParty(idp.issuer, webAppClient);
  });
  afterAll(() => idp?.destroy());

  it('loads the passkey script on the account page, and without it the form stays hidden and says it needs JavaScript', async () => {
    const { account } = await onAccountPage();
    expect(account.$('script[src="/static/vendor/simplewebauthn-browser.js"]').length).toBe(1);
    expect(account.$('script[src="/static/passkeys.js"]').length).toBe(1);
    expect(account.$('form[action="/account/passkeys"]').attr('hidden')).toBeDefined();
    expect(account.$('.passkey-needs-script').text()).toContain('JavaScript');
  });

  it('adds a passkey from the account page: announced, listed by its name, never used yet, and audited', async () => {
    const { person, account } = await onAccountPage();
    const { options, after: added } = await registerPasskey(person, account, { name: 'Work laptop' });
    expect(options.rp?.id).toBe('localhost');
    expect(added.status).toBe(200);
    expect(added.$('.notice').text()).toContain('Your passkey is added');
    expect(passkeyNames(added)).toEqual(['Work laptop']);
    expect(added.$('.passkey .hint').text()).toContain('last used never');
    expect(await doneActions(person.id)).toEqual(expect.arrayContaining(['mfa.passkey.added']));
  });

  it('logs neither the challenge nor the credential id of an added passkey', async () => {
    const { person, account } = await onAccountPage();
    const { options } = await registerPasskey(person, account, { name: 'Work laptop' });
    expect(idp.logs.raw).not.toContain(options.challenge);
    expect(idp.logs.raw).not.toContain(person.authenticator.passkeys[0]!.id);
  });

  it('names an unnamed second passkey "Passkey", and leaves the first out of its options', async () => {
    const { person, account } = await onAccountPage();
    const { after: added } = await registerPasskey(person, account, { name: 'Work laptop' });
    const { options: second, after: two } = await registerPasskey(person, added);
    expect((second as { excludeCredentials?: { id: string }[] }).excludeCredentials?.map((credential) => credential.id)).toEqual([person.authenticator.passkeys[0]!.id]);
    expect(passkeyNames(two)).toEqual(['Work laptop', 'Passkey']);
  });

  it('adds nothing when the answer does not verify (here: it answers another challenge)', async () => {
    const { person, account } = await onAccountPage();
    const { after: added } = await registerPasskey(person, account, { name: 'Work laptop' });
    const { after: two } = await registerPasskey(person, added);
    const { after: notAdded } = await registerPasskey(person, two, { name: 'Forged' }, 'bm90IHRoZSBjaGFsbGVuZ2U');
    expect(notAdded.status).toBe(400);
    expect(notAdded.$('.alert').text()).toContain('could not be added');
    expect(await idp.idp.passkeys!.list(person.id)).toHaveLength(2);
  });

  it('renames a passkey: announced, listed by its new name, and audited', async () => {
    const { person, account } = await onAccountPage();
    const { after: added } = await registerPasskey(person, account, { name: 'Work laptop' });
    const { after: two } = await registerPasskey(person, added);
    const renamed = page(await person.browser.submit(two, 'form.passkey-rename:last', { name: 'Phone' }));
    expect(renamed.$('.notice').text()).toBe('The passkey is renamed.');
    expect(renamed.$('.passkey-name').last().text()).toBe('Phone');
    expect(await doneActions(person.id)).toEqual(expect.arrayContaining(['mfa.passkey.renamed']));
  });

  it('refuses a blank passkey name, saying how long a name may be', async () => {
    const { person, account } = await onAccountPage();
    const { after: added } = await registerPasskey(person, account, { name: 'Work laptop' });
    const blank = page(await person.browser.submit(added, 'form.passkey-rename:last', { name: '   ' }));
    expect(blank.status).toBe(400);
    expect(blank.$('.alert').text()).toContain('1 to 100 characters');
  });

  it('asks an account with only a passkey for it after the password, and the ID token says pwd + hwk, 2fa', async () => {
    const person = await signedInPerson();
    await signIn(person.browser, (await startAuthorization(config)).url, { email: person.email, password });
    await addPasskey(person, 'Laptop');

    const fresh = { ...person, browser: newBrowser() };
    const { start, next } = await passwordStep(fresh);
    const step = page(next);
    expect(step.url).toMatch(/\/second-factor$/);
    expect(step.$('h1').text()).toBe('Two-step verification');
    expect(step.$('#code').length).toBe(0);
    expect(step.$('form[data-passkey]').attr('action')).toMatch(/\/second-factor\/passkey$/);

    const options = await ceremonyOptions(fresh.browser, step, 'form[data-passkey]');
    expect(options.allowCredentials?.map((credential) => credential.id)).toEqual([person.authenticator.passkeys[0]!.id]);
    const callback = await callbackAfter(fresh.browser, await submitAnswer(fresh.browser, step, 'form[data-passkey]', person.authenticator.authenticate(options)));
    expect((await exchangeCode(config, callback, start)).claims()).toMatchObject({ sub: person.id, amr: ['pwd', 'hwk'], acr: 'urn:idp:acr:2fa' });
    const [passkey] = await idp.idp.passkeys!.list(person.id);
    expect(passkey!.lastUsedAt).not.toBeNull();
  });

  it('signs in with a passkey alone (user verified): amr hwk, acr 2fa, and the sign-in is in the history', async () => {
    const person = await signedInPerson();
    await signIn(person.browser, (await startAuthorization(config)).url, { email: person.email, password });
    await addPasskey(person, 'Laptop');

    const browser = newBrowser();
    const start = await startAuthorization(config, { scope: 'openid' });
    const login = await browser.open(start.url.href);
    const form = 'form[action$="/passkey"]';
    expect(login.$(form).text()).toContain('Sign in with a passkey');
    const options = await ceremonyOptions(browser, login, form);
    expect(options.userVerification).toBe('required');
    expect(options.allowCredentials ?? []).toEqual([]);
    const callback = await callbackAfter(browser, await submitAnswer(browser, login, form, person.authenticator.authenticate(options)));
    expect((await exchangeCode(config, callback, start)).claims()).toMatchObject({ sub: person.id, amr: ['hwk'], acr: 'urn:idp:acr:2fa' });
    const history = await idp.idp.database.db.selectFrom('login_history').select(['method', 'outcome']).where('account_id', '=', person.id).orderBy('at', 'desc').executeTakeFirstOrThrow();
    expect(history).toEqual({ method: 'passkey', outcome: 'success' });

    // Without user verification (no PIN, no fingerprint) the passkey is one factor only: refused.
    const careless = new SoftAuthenticator('localhost', idp.issuer, false);
    careless.passkeys.push({ ...person.authenticator.passkeys[0]! });
    const again = await browser.open((await startAuthorization(config, { scope: 'openid', prompt: 'login' })).url.href);
    const refused = page(await submitAnswer(browser, again, form, careless.authenticate(await ceremonyOptions(browser, again, form))));
    expect(refused.status).toBe(400);
    expect(refused.$('.alert').text()).toContain('not accepted');

    // A deleted account keeps its passkeys for a restore, but they sign nobody in.
    await idp.idp.database.db.updateTable('accounts').set({ deleted_at: new Date() }).where('id', '=', person.id).execute();
    const afterDelete = await browser.open((await startAuthorization(config, { scope: 'openid', prompt: 'login' })).url.href);
    const gone = await submitAnswer(browser, afterDelete, form, person.authenticator.authenticate(await ceremonyOptions(browser, afterDelete, form)));
    expect(gone.leftTo).toBeUndefined();
    expect(page(gone).status).toBeGreaterThanOrEqual(400);
    const last = await idp.idp.database.db.selectFrom('login_history').select('outcome').where('account_id', '=', person.id).orderBy('at', 'desc').executeTakeFirstOrThrow();
    expect(last.outcome).toBe('account_disabled');
  });

  it('refuses an expired challenge with a readable message, audited, and a challenge only once and only where it was started', async () => {
    const person = await signedInPerson();
    await signIn(person.browser, (await startAuthorization(config)).url, { email: person.email, password });
    await addPasskey(person, 'Laptop');

    const browser = newBrowser();
    const login = await browser.open((await startAuthorization(config, { scope: 'openid' })).url.href);
    const form = 'form[action$="/passkey"]';
    const options = await ceremonyOptions(browser, login, form);
    await idp.idp.database.db.updateTable('webauthn_challenges').set({ expires_at: new Date(Date.now() - 1000) }).execute();
    const expired = page(await submitAnswer(browser, login, form, person.authenticator.authenticate(options)));
    expect(expired.status).toBe(400);
    expect(expired.$('.alert').text()).toBe('This passkey request expired or was already used. Try again.');
    expect((await deniedAudit(idp, 'mfa.passkey.challenge')).map((row) => row.changes)).toContainEqual({ purpose: 'passwordless', reason: 'expired' });

    // The service underneath: a challenge is used up by its first answer, and is for its own interaction.
    const passkeys = idp.idp.passkeys!;
    const context = { ip: null, userAgent: null };
    const ceremony = await passkeys.startPasswordless('interaction-a');
    const answer = JSON.stringify(person.authenticator.authenticate(ceremony.options));
    await expect(passkeys.verifyPasswordless('interaction-a', ceremony.key, answer, context)).resolves.toBe(person.id);
    await expect(passkeys.verifyPasswordless('interaction-a', ceremony.key, answer, context)).rejects.toEqual(new PasskeyChallengeError('unknown'));
    const elsewhere = await passkeys.startPasswordless('interaction-b');
    const answerB = JSON.stringify(person.authenticator.authenticate(elsewhere.options));
    await expect(passkeys.verifyPasswordless('interaction-c', elsewhere.key, answerB, context)).rejects.toEqual(new PasskeyChallengeError('mismatch'));
    // A page that lost its cookie has no challenge at all.
    await expect(passkeys.verifyPasswordless('interaction-b', '', answerB, context)).rejects.toEqual(new PasskeyChallengeError('unknown'));
  });

  it('refuses a passkey of another account and an unknown one: readable, audited, counted by the second-factor throttle', async () => {
    const alice = await signedInPerson();
    const bob = await signedInPerson();
    for (const person of [alice, bob]) {
      await signIn(person.browser, (await startAuthorization(config)).url, { email: person.email, password });
      await addPasskey(person, 'Laptop');
    }

    const fresh = { ...alice, browser: newBrowser() };
    let step = page((await passwordStep(fresh)).next);
    const form = 'form[data-passkey]';
    const attempt = async (answerFor: (options: { challenge: string }) => unknown) => {
      step = page(await submitAnswer(fresh.browser, step, form, answerFor(await ceremonyOptions(fresh.browser, step, form))));
      return step;
    };

    const bobs = await attempt((options) => bob.authenticator.authenticate(options));
    expect(bobs.status).toBe(400);
    expect(bobs.$('.alert').text()).toBe('That passkey was not accepted for this account. Try again, or use another way to sign in.');
    const unknown = await attempt((options) => alice.authenticator.authenticate(options, alice.authenticator.passkeys[0], { id: 'bm8tc3VjaC1wYXNza2V5' }));
    expect(unknown.status).toBe(400);
    const denied = await deniedAudit(idp, 'mfa.passkey.verify');
    expect(denied.filter((row) => row.actor_id === alice.id).map((row) => (row.changes as { reason: string }).reason)).toEqual(['other-account', 'unknown']);

    // The third failure locks the second step (LOGIN_MAX_FAILURES=3), even for her own passkey.
    const locked = await attempt((options) => bob.authenticator.authenticate(options));
    expect(locked.status).toBe(429);
    expect(locked.$('.alert').text()).toMatch(/Too many wrong codes/);
    expect((await attempt((options) => alice.authenticator.authenticate(options))).status).toBe(429);

    // Passwordless: the user handle must be the passkey's own account.
    const browser = newBrowser();
    const login = await browser.open((await startAuthorization(config, { scope: 'openid' })).url.href);
    const options = await ceremonyOptions(browser, login, 'form[action$="/passkey"]');
    const forged = page(await submitAnswer(browser, login, 'form[action$="/passkey"]', bob.authenticator.authenticate(options, bob.authenticator.passkeys[0], { userHandle: Buffer.from(alice.id).toString('base64url') })));
    expect(forged.status).toBe(400);
    expect((await deniedAudit(idp, 'mfa.passkey.verify')).filter((row) => row.actor_id === bob.id).map((row) => (row.changes as { reason: string }).reason)).toEqual(['other-account']);
  });

  it('keeps the last second factor when policy requires one; an admin reset removes passkeys too', async () => {
    const admin = await signedInPerson({ roles: ['admin', 'user'] });
    // Policy makes an admin with no second factor set up an authenticator app while signing in.
    const start = await startAuthorization(config, { scope: 'openid' });
    const setup = page(await submitLogin(admin.browser, await admin.browser.open(start.url.href), admin.email, password));
    expect(setup.$('h1').text()).toBe('Set up two-step verification');
    const codes = page(await admin.browser.submit(setup, 'form[action$="/second-factor/setup"]', { code: await generate({ secret: setup.$('code.secret').text() }) }));
    await callbackAfter(admin.browser, await admin.browser.submit(codes, 'form'));

    const added = await addPasskey(admin, 'Security key');
    // The app may go now: a passkey is left.
    expect(added.$('form[action="/account/two-step/remove"]').length).toBe(1);
    const appRemoved = page(await admin.browser.submit(added, 'form[action="/account/two-step/remove"]'));
    expect(appRemoved.$('.notice').text()).toBe('Two-step verification is off.');
    expect(await idp.idp.secondFactors.status(admin.id)).toMatchObject({ totp: false, passkeys: 1 });

    // The passkey may not: it is the last second factor.
    const refused = page(await admin.browser.submit(appRemoved, 'form[action="/account/passkeys/remove"]'));
    expect(refused.status).toBe(409);
    expect(refused.$('.alert').text()).toBe('Two-step verification is required for this account: keep at least one passkey or authenticator app.');
    expect(await idp.idp.passkeys!.list(admin.id)).toHaveLength(1);
    expect((await deniedAudit(idp, 'mfa.passkey.removed')).map((row) => row.actor_id)).toContain(admin.id);

    // Someone else's passkey cannot be removed from this page.
    const other = await signedInPerson();
    await signIn(other.browser, (await startAuthorization(config)).url, { email: other.email, password });
    await addPasskey(other, 'Mine');
    const theirs = page(await other.browser.submit(await other.browser.open(`${idp.issuer}/account/security`), 'form[action="/account/passkeys/remove"]', { id: admin.authenticator.passkeys[0]!.id }));
    expect(theirs.status).toBe(404);
    expect(await idp.idp.passkeys!.list(admin.id)).toHaveLength(1);
    // Without the policy, the last one goes.
    const removed = page(await other.browser.submit(theirs, 'form[action="/account/passkeys/remove"]'));
    expect(removed.$('.notice').text()).toBe('The passkey is removed.');

    // The admin list counts passkeys as a second factor, and a reset removes them.
    const administration = createAccountAdministration(idp.idp.database.db);
    expect((await administration.getAccount(admin.id)).second_factor).toBe(true);
    expect(await idp.idp.secondFactors.reset(admin.id)).toBe(true);
    expect(await idp.idp.passkeys!.list(admin.id)).toEqual([]);
    expect((await administration.getAccount(admin.id)).second_factor).toBe(false);
  });
});
