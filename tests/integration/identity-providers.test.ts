import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import * as oidc from 'openid-client';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Browser, type Page } from '../support/browser.ts';
import { type FakeGithub, startFakeGithub } from '../support/fake-github.ts';
import { type FakeMicrosoft, startFakeMicrosoft } from '../support/fake-microsoft.ts';
import { type FakeOidc, startFakeOidc } from '../support/fake-oidc.ts';
import { backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, startAuthorization, submitLogin } from '../support/rp.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

/** The most production-like stack available: Postgres and Redis in CI, PGlite on a bare machine. */
const backend = backends.at(-1)!;

/** Opens an RP's authorization and presses "Continue with <name>"; returns where that ended. */
async function continueWith(idp: TestIdp, name: string, browser: Browser = newBrowser()) {
  const config = await relyingParty(idp.issuer, webAppClient);
  const start = await startAuthorization(config);
  const login = await browser.open(start.url.href);
  const button = login.$(`form.federated button:contains("Continue with ${name}")`);
  expect(button.length, `a "Continue with ${name}" button`).toBe(1);
  const action = button.closest('form').attr('action')!;
  const result = await browser.submit(login, `form[action="${action}"]`);
  return { config, start, browser, login, result };
}

/** Allows the consent page and exchanges the code: the ID token's claims. */
async function finishAtRp(flow: Awaited<ReturnType<typeof continueWith>>) {
  const consent = flow.result.page!;
  expect(consent.$('h1').text(), consent.$('[role=alert]').text()).toBe('Allow access?');
  const tokens = await exchangeCode(flow.config, (await flow.browser.submit(consent, 'form[action$="/confirm"]')).leftTo!, flow.start);
  return tokens.claims()!;
}

describe(`Sign in with any OpenID provider, GitHub or Microsoft (${backend})`, () => {
  let acme: FakeOidc;
  let github: FakeGithub;
  let microsoft: FakeMicrosoft;
  let smtp: TestSmtpServer;
  let idp: TestIdp;
  let file: string;

  beforeAll(async () => {
    // Acme's IdP authenticates us with private_key_jwt: it knows only our public key.
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const clientKey = { ...(await exportJWK(privateKey)), alg: 'ES256', kid: 'idp-at-acme' };
    acme = await startFakeOidc({ clientId: 'idp-at-acme', clientJwks: { keys: [{ ...(await exportJWK(publicKey)), alg: 'ES256', kid: 'idp-at-acme' }] }, cookiePrefix: 'acme' });
    github = await startFakeGithub();
    microsoft = await startFakeMicrosoft();
    smtp = await startSmtpServer();
    file = path.join(await import('node:os').then((os) => os.tmpdir()), `providers-${process.pid}-${Date.now()}.json`);
    writeFileSync(
      file,
      JSON.stringify([
        { id: 'acme', name: 'Acme SSO', type: 'oidc', issuer: acme.issuer, client_id: acme.clientId, private_key_jwt: clientKey, domains: ['acme.test'], enforce: true },
        { id: 'github', name: 'GitHub', type: 'github', client_id: github.clientId, client_secret: github.clientSecret, github_url: github.githubUrl, api_url: github.apiUrl },
        {
          id: 'entra',
          name: 'Microsoft',
          type: 'microsoft',
          authority: microsoft.authority,
          client_id: microsoft.clientId,
          client_secret: microsoft.clientSecret,
          allowed_tenants: [microsoft.tenantA],
          domains: ['contoso.test'],
        },
      ]),
    );
    idp = await startTestIdp({ backend, env: { SMTP_URL: smtp.url, IDENTITY_PROVIDERS_FILE: file } });
    acme.register(`${idp.issuer}/interaction/callback/acme`);
  });
  afterAll(async () => {
    await idp?.destroy();
    await smtp?.close();
    await Promise.allSettled([acme?.stop(), github?.stop(), microsoft?.stop()]);
    rmSync(file, { force: true });
  });

  const accountsWithEmail = (email: string) => idp.idp.database.db.selectFrom('accounts').selectAll().where('email', 'ilike', email).execute();
  const historyOf = (accountId: string) => idp.idp.database.db.selectFrom('login_history').select(['method', 'outcome']).where('account_id', '=', accountId).execute();

  it('signs a new person in through a generic OpenID provider (private_key_jwt), amr "fed", history naming the provider', async () => {
    acme.addAccount('acme-1', { email: 'ada@acme.test', email_verified: true, name: 'Ada Acme' });
    acme.signInAs('acme-1');
    const claims = await finishAtRp(await continueWith(idp, 'Acme SSO'));
    expect(claims.amr).toEqual(['fed']);
    expect(claims.idp).toBe('acme');
    const [account] = await accountsWithEmail('ada@acme.test');
    expect(account).toMatchObject({ id: claims.sub, email_verified: true, name: 'Ada Acme', password_hash: null });
    expect(await historyOf(account!.id)).toEqual([{ method: 'acme', outcome: 'success' }]);
    const audit = await idp.idp.database.db.selectFrom('audit_events').select(['action', 'changes']).where('target_id', '=', account!.id).execute();
    expect(audit).toMatchObject([{ action: 'account.identity.linked', changes: { provider: 'acme', created: true } }]);
  });

  it('the ID token names the upstream provider (idp), also after a refresh; a password sign-in of the same browser then names none', async () => {
    // GitHub's verified address of a verified local account: the identity links, and the person signs in.
    await idp.idp.accounts.createAccount({ email: 'ida@example.com', password: 'ida passphrase 1', emailVerified: true });
    github.addUser({ id: 601, login: 'ida', emails: [{ email: 'ida@example.com', primary: true, verified: true }] });
    github.signInAs(601);
    const flow = await continueWith(idp, 'GitHub');
    expect(flow.result.page?.$('h1').text(), flow.result.page?.$('[role=alert]').text()).toBe('Allow access?');
    const start = await startAuthorization(flow.config, { scope: 'openid email offline_access', prompt: 'consent' });
    const again = (await flow.browser.navigate(start.url.href)).page!;
    const tokens = await exchangeCode(flow.config, (await flow.browser.submit(again, 'form[action$="/confirm"]')).leftTo!, start);
    expect(tokens.claims()).toMatchObject({ amr: ['fed'], idp: 'github' });
    const refreshed = await oidc.refreshTokenGrant(flow.config, tokens.refresh_token!);
    expect(refreshed.claims()).toMatchObject({ amr: ['fed'], idp: 'github' });

    // The same browser's session signs in again, with the password.
    const byPassword = await startAuthorization(flow.config, { prompt: 'login' });
    const login = (await flow.browser.navigate(byPassword.url.href)).page!;
    let step = await submitLogin(flow.browser, login, 'ida@example.com', 'ida passphrase 1');
    if (step.page) step = await flow.browser.submit(step.page, 'form[action$="/confirm"]');
    const passwordTokens = await exchangeCode(flow.config, step.leftTo!, byPassword);
    expect(passwordTokens.claims()?.amr).toEqual(['pwd']);
    expect(passwordTokens.claims()).not.toHaveProperty('idp');
  });

  it('keeps naming the upstream provider when the client later asks the session for a second factor (step-up)', async () => {
    await idp.idp.accounts.createAccount({ email: 'ivo@example.com', password: 'ivo passphrase 1', emailVerified: true });
    github.addUser({ id: 602, login: 'ivo', emails: [{ email: 'ivo@example.com', primary: true, verified: true }] });
    github.signInAs(602);
    const flow = await continueWith(idp, 'GitHub');
    expect((await finishAtRp(flow)).idp).toBe('github');

    const stepUp = await startAuthorization(flow.config, { scope: 'openid', acr_values: 'urn:idp:acr:2fa' });
    const setup = (await flow.browser.navigate(stepUp.url.href)).page!;
    expect(setup.$('h1').text()).toBe('Set up two-step verification');
    const code = await generate({ secret: setup.$('code.secret').text(), epoch: Math.floor(Date.now() / 1000) });
    let step = await flow.browser.submit(setup, 'form[action$="/second-factor/setup"]', { code });
    step = await flow.browser.submit(step.page!, 'form');
    while (step.page?.$('form[action$="/confirm"]').length) step = await flow.browser.submit(step.page, 'form[action$="/confirm"]');
    const stepped = await exchangeCode(flow.config, step.leftTo!, stepUp);
    expect(stepped.claims()).toMatchObject({ amr: ['fed', 'otp'], acr: 'urn:idp:acr:2fa', idp: 'github' });
  });

  it('refuses a tampered ID token from the OpenID provider, creating nothing, and logs why', async () => {
    acme.addAccount('acme-2', { email: 'bob@acme.test', email_verified: true });
    acme.signInAs('acme-2');
    acme.tamperIdTokens((claims) => ({ ...claims, aud: 'someone-else' }));
    try {
      const { result } = await continueWith(idp, 'Acme SSO');
      expect(result.page?.status).toBe(400);
      expect(result.page?.$('[role=alert]').text()).toBe('Acme SSO sign-in failed. Try again, or use your password.');
      const log = idp.logs.forRequest(result.page!.headers.get('x-request-id')).find((line) => line.msg === 'upstream sign-in refused');
      expect(log).toMatchObject({ provider: 'acme', reason: expect.stringMatching(/"aud"/) });
    } finally {
      acme.tamperIdTokens(undefined);
    }
    expect(await accountsWithEmail('bob@acme.test')).toEqual([]);
  });

  it('home-realm discovery: an email of a claimed domain goes straight to its provider; with enforce, its password is refused', async () => {
    const browser = newBrowser();
    const config = await relyingParty(idp.issuer, webAppClient);
    const login = await browser.open((await startAuthorization(config)).url.href);
    const sent = await browser.fetch(new URL(login.$('form[action$="/login"]').attr('action')!, login.url).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: String(login.$('form[action$="/login"] input[name=_csrf]').val()), email: 'cy@ACME.test', password: '' }).toString(),
    });
    expect(sent.status).toBe(303);
    const to = new URL(sent.headers.get('location')!);
    expect(to.origin).toBe(new URL(acme.issuer).origin);
    expect(to.searchParams.get('login_hint')).toBe('cy@ACME.test');

    // A local account of that domain (made before the provider claimed it) cannot use its password any more.
    await idp.idp.accounts.createAccount({ email: 'dee@acme.test', password: 'dee passphrase 1', emailVerified: true });
    const dee = newBrowser();
    const refused = (await submitLogin(dee, await dee.open((await startAuthorization(config)).url.href), 'dee@acme.test', 'dee passphrase 1')).page!;
    expect(refused.status).toBe(403);
    expect(refused.$('[role=alert]').text()).toContain('sign in with Acme SSO');

    // Other domains sign in with their password as before.
    await idp.idp.accounts.createAccount({ email: 'eve@example.com', password: 'eve passphrase 1', emailVerified: true });
    const other = newBrowser();
    const page = await other.open((await startAuthorization(config)).url.href);
    expect((await submitLogin(other, page, 'eve@example.com', 'eve passphrase 1')).page?.$('h1').text()).toBe('Allow access?');
  });

  it('GitHub: signs in with the primary verified email; an unverified primary email never creates or links', async () => {
    github.addUser({ id: 501, login: 'fay', name: 'Fay Hub', avatar_url: 'https://avatars.test/fay.png', emails: [
      { email: 'fay-old@example.org', primary: false, verified: true },
      { email: 'fay@example.org', primary: true, verified: true },
    ] });
    github.signInAs(501);
    const claims = await finishAtRp(await continueWith(idp, 'GitHub'));
    expect(claims.idp).toBe('github');
    const [account] = await accountsWithEmail('fay@example.org');
    expect(account).toMatchObject({ id: claims.sub, name: 'Fay Hub', email_verified: true });
    expect(await idp.idp.database.db.selectFrom('federated_identities').select(['provider', 'subject']).where('account_id', '=', account!.id).execute()).toEqual([{ provider: 'github', subject: '501' }]);

    // A verified local account and a GitHub user whose primary address (the same) GitHub has not verified.
    await idp.idp.accounts.createAccount({ email: 'gus@example.org', password: 'gus passphrase 1', emailVerified: true });
    github.addUser({ id: 502, login: 'gus', emails: [{ email: 'gus@example.org', primary: true, verified: false }, { email: 'other@example.org', primary: false, verified: true }] });
    github.signInAs(502);
    const { result } = await continueWith(idp, 'GitHub');
    expect(result.page?.status).toBe(403);
    expect(result.page?.$('[role=alert]').text()).toContain('GitHub has not confirmed the email address');
    expect(await idp.idp.database.db.selectFrom('federated_identities').selectAll().where('provider', '=', 'github').where('subject', '=', '502').execute()).toEqual([]);
  });

  it('GitHub: a verified email of a verified local account links and the owner is told; an unverified local account needs its password', async () => {
    const hal = await idp.idp.accounts.createAccount({ email: 'hal@example.org', password: 'hal passphrase 1', emailVerified: true });
    github.addUser({ id: 503, login: 'hal', emails: [{ email: 'hal@example.org', primary: true, verified: true }] });
    github.signInAs(503);
    expect((await finishAtRp(await continueWith(idp, 'GitHub'))).sub).toBe(hal.id);
    await smtp.waitFor('hal@example.org', /GitHub was linked to your account/);

    const ivy = await idp.idp.accounts.createAccount({ email: 'ivy@example.org', password: 'ivy passphrase 1' });
    github.addUser({ id: 504, login: 'ivy', emails: [{ email: 'ivy@example.org', primary: true, verified: true }] });
    github.signInAs(504);
    const flow = await continueWith(idp, 'GitHub');
    expect(flow.result.page?.status).toBe(409);
    expect(flow.result.page?.$('[role=alert]').text()).toContain('Sign in with its password once to link GitHub');
    const consent = (await submitLogin(flow.browser, flow.result.page!, 'ivy@example.org', 'ivy passphrase 1')).page!;
    expect(consent.$('h1').text()).toBe('Allow access?');
    expect(await idp.idp.database.db.selectFrom('federated_identities').select('provider').where('account_id', '=', ivy.id).execute()).toEqual([{ provider: 'github' }]);
  });

  it('GitHub: cancelling, garbage and an API that is down are readable pages; the password still works', async () => {
    github.denyNext();
    const cancelled = (await continueWith(idp, 'GitHub')).result.page!;
    expect(cancelled.status).toBe(400);
    expect(cancelled.$('[role=alert]').text()).toBe('GitHub sign-in was cancelled.');

    github.addUser({ id: 505, login: 'jo', emails: [{ email: 'jo@example.org', primary: true, verified: true }] });
    try {
      github.signInAs(505);
      github.fail('garbage-token');
      const garbage = (await continueWith(idp, 'GitHub')).result.page!;
      expect(garbage.status).toBe(400);
      expect(garbage.$('[role=alert]').text()).toBe('GitHub sign-in failed. Try again, or use your password.');
      expect(idp.logs.forRequest(garbage.headers.get('x-request-id')).find((line) => line.msg === 'upstream sign-in refused')?.reason).toMatch(/without JSON/);

      github.signInAs(505);
      github.fail('api-down');
      const down = (await continueWith(idp, 'GitHub')).result.page!;
      expect(down.status).toBe(424);
      expect(down.$('[role=alert]').text()).toContain('GitHub sign-in is unavailable right now');
    } finally {
      github.fail(undefined);
    }
    expect(await accountsWithEmail('jo@example.org')).toEqual([]);

    await idp.idp.accounts.createAccount({ email: 'kim@example.com', password: 'kim passphrase 1', emailVerified: true });
    const browser = newBrowser();
    const page = await browser.open((await startAuthorization(await relyingParty(idp.issuer, webAppClient))).url.href);
    expect((await submitLogin(browser, page, 'kim@example.com', 'kim passphrase 1')).page?.$('h1').text()).toBe('Allow access?');
  });

  it('Microsoft: validates the issuer per tenant, signs in with a domain-verified email, refuses other tenants and tokens', async () => {
    microsoft.addUser('lea', { tid: microsoft.tenantA, oid: 'oid-lea', email: 'lea@contoso.test', name: 'Lea Contoso', xms_edov: true });
    microsoft.signInAs('lea');
    const claims = await finishAtRp(await continueWith(idp, 'Microsoft'));
    const [account] = await accountsWithEmail('lea@contoso.test');
    expect(account!.id).toBe(claims.sub);
    expect(await idp.idp.database.db.selectFrom('federated_identities').select('subject').where('account_id', '=', account!.id).execute()).toEqual([{ subject: `${microsoft.tenantA}:oid-lea` }]);

    const refusedWith = async (rewrite: Parameters<FakeMicrosoft['tamperIdTokens']>[0], reason: RegExp, options: { foreignKey?: boolean } = {}) => {
      microsoft.signInAs('lea');
      microsoft.tamperIdTokens(rewrite, options);
      try {
        const page = (await continueWith(idp, 'Microsoft')).result.page!;
        expect(page.status).toBe(400);
        expect(page.$('[role=alert]').text()).toBe('Microsoft sign-in failed. Try again, or use your password.');
        expect(idp.logs.forRequest(page.headers.get('x-request-id')).find((line) => line.msg === 'upstream sign-in refused')?.reason).toMatch(reason);
      } finally {
        microsoft.tamperIdTokens(undefined);
      }
    };
    // An issuer of another tenant than the token's `tid`: what a token minted in an attacker's tenant looks like.
    await refusedWith((c) => ({ ...c, iss: `${microsoft.authority}/${microsoft.tenantB}/v2.0` }), /"iss"/);
    await refusedWith((c) => ({ ...c, nonce: 'not-the-nonce' }), /"nonce"/);
    await refusedWith((c) => ({ ...c, aud: 'another-app' }), /"aud"/);
    await refusedWith((c) => c, /signature/, { foreignKey: true });

    // A tenant not in allowed_tenants, with its own consistent issuer.
    microsoft.addUser('max', { tid: microsoft.tenantB, oid: 'oid-max', email: 'max@fabrikam.test', xms_edov: true });
    microsoft.signInAs('max');
    const other = (await continueWith(idp, 'Microsoft')).result.page!;
    expect(other.status).toBe(403);
    expect(await accountsWithEmail('max@fabrikam.test')).toEqual([]);

    // Without xms_edov, Entra's email proves nothing: no account is made from it.
    microsoft.addUser('ned', { tid: microsoft.tenantA, oid: 'oid-ned', email: 'ned@contoso.test' });
    microsoft.signInAs('ned');
    expect((await continueWith(idp, 'Microsoft')).result.page?.status).toBe(403);
    expect(await accountsWithEmail('ned@contoso.test')).toEqual([]);

    microsoft.denyNext();
    expect((await continueWith(idp, 'Microsoft')).result.page?.$('[role=alert]').text()).toBe('Microsoft sign-in was cancelled.');
  });

  it('the account page lists every provider, links and unlinks each, and keeps the last way in', async () => {
    await idp.idp.accounts.createAccount({ email: 'ola@example.com', password: 'ola passphrase 1', emailVerified: true });
    const browser = newBrowser();
    const config = await relyingParty(idp.issuer, webAppClient);
    const login = await browser.open((await startAuthorization(config)).url.href);
    await browser.submit((await submitLogin(browser, login, 'ola@example.com', 'ola passphrase 1')).page!, 'form[action$="/confirm"]');

    let page: Page = await browser.open(`${idp.issuer}/account/security`);
    expect(page.$('.methods h3').map((_i, el) => page.$(el).text()).get()).toEqual(expect.arrayContaining(['Acme SSO', 'GitHub', 'Microsoft']));
    github.addUser({ id: 506, login: 'ola', emails: [{ email: 'ola.dev@example.org', primary: true, verified: true }] });
    github.signInAs(506);
    page = (await browser.submit(page, 'form[action="/account/github/link"]')).page!;
    expect(page.$('[role=status]').text()).toBe('GitHub is now linked: you can use it to sign in.');
    expect(page.$('.github-email').text()).toBe('ola.dev@example.org');
    page = (await browser.submit(page, 'form[action="/account/github/unlink"]')).page!;
    expect(page.$('[role=status]').text()).toBe('GitHub is no longer linked to your account.');
    const [ola] = await accountsWithEmail('ola@example.com');
    const audit = await idp.idp.database.db.selectFrom('audit_events').select(['action', 'changes']).where('target_id', '=', ola!.id).where('action', 'like', 'account.identity.%').orderBy('id').execute();
    expect(audit).toMatchObject([
      { action: 'account.identity.linked', changes: { provider: 'github' } },
      { action: 'account.identity.unlinked', changes: { provider: 'github' } },
    ]);

    // Fay signed up through GitHub: it is her only way in.
    github.signInAs(501);
    const fay = newBrowser();
    await fay.submit((await continueWith(idp, 'GitHub', fay)).result.page!, 'form[action$="/confirm"]');
    const refused = (await fay.submit(await fay.open(`${idp.issuer}/account/security`), 'form[action="/account/github/unlink"]')).page!;
    expect(refused.status).toBe(409);
    expect(refused.$('[role=alert]').text()).toBe('GitHub is the only way you sign in: set a password before you unlink it.');
    // GitHub never says when the person signed in: it cannot confirm it is her for a sensitive change.
    const reauth = await fay.open(`${idp.issuer}/account/reauth`);
    expect(reauth.$('form[action="/account/reauth/github"]').length).toBe(0);
    expect(reauth.$('[role=alert]').text()).toContain('no way to confirm here');
  });
});

describe('bad identity provider configuration', () => {
  it('stops the start with an error naming the entry whose issuer does not answer', async () => {
    const file = path.join((await import('node:os')).tmpdir(), `providers-down-${process.pid}-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify([{ id: 'gone', name: 'Gone SSO', type: 'oidc', issuer: 'http://127.0.0.1:9/nowhere', client_id: 'x', client_secret: 'y' }]));
    await expect(startTestIdp({ backend: 'pglite', env: { IDENTITY_PROVIDERS_FILE: file } })).rejects.toThrow(/identity provider "gone": issuer unreachable/);
    rmSync(file);
  });

  it('stops the start with an error naming the entry and field of a bad entry', async () => {
    const file = path.join((await import('node:os')).tmpdir(), `providers-bad-${process.pid}-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify([{ id: 'hub', name: 'Hub', type: 'github', client_id: 'x' }]));
    await expect(startTestIdp({ backend: 'pglite', env: { IDENTITY_PROVIDERS_FILE: file } })).rejects.toThrow(/identity provider "hub": client_secret/);
    rmSync(file);
  });
});
