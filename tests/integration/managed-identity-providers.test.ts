import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Browser, type Page } from '../support/browser.ts';
import { type FakeOidc, startFakeOidc } from '../support/fake-oidc.ts';
import { adminCliClient, backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization, submitLogin } from '../support/rp.ts';

const CLI_REDIRECT = 'http://127.0.0.1:53682/callback';
const backend = backends.at(-1)!;

/** A bearer token for the admin API, signed in through the admin CLI's client. */
async function adminToken(idp: TestIdp, email: string, password: string) {
  const cli = await relyingParty(idp.issuer, adminCliClient);
  const start = await startAuthorization(cli, { redirect_uri: CLI_REDIRECT, scope: 'openid admin', resource: `${idp.issuer}/admin/api` });
  const callback = await signIn(new Browser([CLI_REDIRECT]), start.url, { email, password });
  return (await oidc.authorizationCodeGrant(cli, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce })).access_token;
}

/** Calls the admin API at `base` (a node's own address, or the issuer). */
async function call(base: string, token: string, method: string, route: string, body?: unknown) {
  const response = await fetch(`${base}/admin/api${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, text };
}

/** The "Continue with" buttons of a fresh sign-in page, served by the node at `base`. */
async function offeredAt(idp: TestIdp, base: string): Promise<string[]> {
  const browser = newBrowser();
  const start = await startAuthorization(await relyingParty(idp.issuer, webAppClient));
  const login = await browser.open(start.url.href);
  const page = await browser.open(`${base}${new URL(login.url).pathname}`);
  // Each button is the provider's initial (its icon) and its words.
  return page.$('form.federated button').map((_i, button) => /Continue with .*/.exec(page.$(button).text())?.[0]).get();
}

/** Waits (a node checks for changes at most once a second) until the node offers what is expected. */
async function eventuallyOffered(idp: TestIdp, base: string, expected: (buttons: string[]) => boolean) {
  let buttons: string[] = [];
  for (let attempt = 0; attempt < 30; attempt += 1) {
    buttons = await offeredAt(idp, base);
    if (expected(buttons)) return buttons;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${base} offers ${JSON.stringify(buttons)}`);
}

describe(`identity providers managed through the admin API and console (${backend})`, () => {
  let idp: TestIdp;
  let corp: FakeOidc;
  let file: string;
  const tokens = { admin: '', super_admin: '' };
  const secret = 'corp-secret-0123456789abcdef';

  beforeAll(async () => {
    corp = await startFakeOidc({ clientId: 'idp-at-corp', clientSecret: secret, cookiePrefix: 'corp' });
    file = path.join(tmpdir(), `managed-providers-${process.pid}-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify([{ id: 'acme', name: 'Acme SSO', type: 'oidc', issuer: corp.issuer, client_id: 'x', client_secret: 'file-secret-value' }]));
    idp = await startTestIdp({ backend, env: { IDENTITY_PROVIDERS_FILE: file } });
    corp.register(`${idp.issuer}/interaction/callback/corp`);
    for (const role of ['admin', 'super_admin'] as const) {
      await idp.idp.accounts.createAccount({ email: `${role}@example.com`, password: `${role} passphrase 1`, roles: [role], emailVerified: true });
      tokens[role] = await adminToken(idp, `${role}@example.com`, `${role} passphrase 1`);
    }
  });
  afterAll(async () => {
    await idp?.destroy();
    await corp?.stop();
    rmSync(file, { force: true });
  });

  const api = (token: string, method: string, route: string, body?: unknown) => call(idp.issuer, token, method, route, body);
  const corpEntry = () => ({ id: 'corp', name: 'Corp SSO', type: 'oidc', issuer: corp.issuer, client_id: corp.clientId, client_secret: secret, domains: ['corp.test'] });

  it('lets only super admins manage providers, refuses bad entries naming the field, and never returns a secret', async () => {
    expect(await api(tokens.admin, 'GET', '/identity-providers')).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    expect((await api(tokens.admin, 'POST', '/identity-providers', corpEntry())).status).toBe(403);

    expect(await api(tokens.super_admin, 'POST', '/identity-providers', { ...corpEntry(), type: 'saml' })).toMatchObject({ status: 400, body: { error: 'invalid_request', field: 'type' } });
    expect(await api(tokens.super_admin, 'POST', '/identity-providers', { ...corpEntry(), id: 'Bad Id' })).toMatchObject({ status: 400, body: { field: 'id' } });
    expect(await api(tokens.super_admin, 'POST', '/identity-providers', { ...corpEntry(), issuer: 'not a url' })).toMatchObject({ status: 400, body: { field: 'issuer' } });
    expect(await api(tokens.super_admin, 'POST', '/identity-providers', { ...corpEntry(), client_secret: undefined })).toMatchObject({ status: 400, body: { field: 'client_secret' } });
    expect(await api(tokens.super_admin, 'POST', '/identity-providers', { ...corpEntry(), colour: 'blue' })).toMatchObject({ status: 400, body: { field: 'colour' } });
    expect(await api(tokens.super_admin, 'POST', '/identity-providers', { ...corpEntry(), name: 'two\u0000parts' })).toMatchObject({ status: 400, body: { field: 'name' } });
    // The issuer must answer its discovery.
    const unreachable = await api(tokens.super_admin, 'POST', '/identity-providers', { ...corpEntry(), issuer: 'http://127.0.0.1:9/nobody' });
    expect(unreachable).toMatchObject({ status: 422, body: { error: 'unreachable_issuer', field: 'issuer' } });
    expect(unreachable.body.error_description).toContain('http://127.0.0.1:9/nobody');
    // The file's entries are listed, read-only.
    const fromFile = await api(tokens.super_admin, 'POST', '/identity-providers', { ...corpEntry(), id: 'acme' });
    expect(fromFile).toMatchObject({ status: 409, body: { error: 'conflict' } });
    expect(fromFile.body.error_description).toContain('IDENTITY_PROVIDERS_FILE');
    expect(await api(tokens.super_admin, 'PATCH', '/identity-providers/acme', { name: 'Renamed' })).toMatchObject({ status: 409 });
    expect(await api(tokens.super_admin, 'DELETE', '/identity-providers/acme')).toMatchObject({ status: 409 });

    const created = await api(tokens.super_admin, 'POST', '/identity-providers', corpEntry());
    expect(created).toMatchObject({ status: 201, body: { id: 'corp', name: 'Corp SSO', source: 'database', read_only: false, has_client_secret: true, has_private_key_jwt: false } });
    expect(await api(tokens.super_admin, 'POST', '/identity-providers', corpEntry())).toMatchObject({ status: 409 });
    const listed = await api(tokens.super_admin, 'GET', '/identity-providers');
    expect(listed.body.items.map((item: { id: string; source: string }) => `${item.id}:${item.source}`)).toEqual(['acme:file', 'corp:database']);
    const got = await api(tokens.super_admin, 'GET', '/identity-providers/corp');
    for (const answer of [created, listed, got]) {
      expect(answer.text).not.toContain(secret);
      expect(answer.text).not.toContain('file-secret-value');
    }
    // Sealed at rest.
    const row = await idp.idp.database.db.selectFrom('identity_providers').selectAll().where('id', '=', 'corp').executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(row.client_secret_sealed).toBeTruthy();

    expect(await api(tokens.super_admin, 'PATCH', '/identity-providers/corp', { id: 'other' })).toMatchObject({ status: 400, body: { field: 'id' } });
    expect(await api(tokens.super_admin, 'PATCH', '/identity-providers/corp', { domains: ['not a domain'] })).toMatchObject({ status: 400, body: { field: 'domains.0' } });
    const renamed = await api(tokens.super_admin, 'PATCH', '/identity-providers/corp', { name: 'Corp Login', client_secret: 'a-new-secret-value' });
    expect(renamed).toMatchObject({ status: 200, body: { name: 'Corp Login', has_client_secret: true } });
    expect(renamed.text).not.toContain('a-new-secret-value');
    expect(await api(tokens.super_admin, 'PATCH', '/identity-providers/corp', { client_secret: secret })).toMatchObject({ status: 200 });
    expect(await api(tokens.super_admin, 'GET', '/identity-providers/nobody')).toMatchObject({ status: 404, body: { error: 'not_found' } });

    const audit = await idp.idp.database.db.selectFrom('audit_events').select(['action', 'changes', 'target_type']).where('target_id', '=', 'corp').orderBy('id').execute();
    expect(audit.map((event) => event.action)).toEqual(['identity-providers.create', 'identity-providers.update', 'identity-providers.update']);
    expect(audit[0]).toMatchObject({ target_type: 'identity_provider', changes: { name: 'Corp SSO', issuer: corp.issuer, has_client_secret: true } });
    expect(audit[1]!.changes).toMatchObject({ name: ['Corp SSO', 'Corp Login'], secrets_replaced: ['client_secret'] });
    expect(JSON.stringify(audit)).not.toContain(secret);
    expect(JSON.stringify(audit)).not.toContain('a-new-secret-value');
  });

  it('offers a provider added through the API at once, signs a person in through it, and drops it when disabled or deleted', async () => {
    expect(await offeredAt(idp, idp.issuer)).toEqual(['Continue with Acme SSO', 'Continue with Corp Login']);

    corp.addAccount('corp-1', { email: 'dora@corp.test', email_verified: true, name: 'Dora Corp' });
    corp.signInAs('corp-1');
    const config = await relyingParty(idp.issuer, webAppClient);
    const browser = newBrowser();
    const start = await startAuthorization(config);
    const login = await browser.open(start.url.href);
    const consent = (await browser.submit(login, 'form[action$="/federated/corp"]')).page!;
    expect(consent.$('h1').text(), consent.$('[role=alert]').text()).toBe('Allow access?');
    const signedIn = await exchangeCode(config, (await browser.submit(consent, 'form[action$="/confirm"]')).leftTo!, start);
    expect(signedIn.claims()).toMatchObject({ email: 'dora@corp.test', amr: ['fed'] });

    expect(await api(tokens.super_admin, 'PATCH', '/identity-providers/corp', { enabled: false })).toMatchObject({ status: 200, body: { enabled: false } });
    expect(await offeredAt(idp, idp.issuer)).toEqual(['Continue with Acme SSO']);
    expect(await api(tokens.super_admin, 'PATCH', '/identity-providers/corp', { enabled: true })).toMatchObject({ status: 200 });
    expect(await offeredAt(idp, idp.issuer)).toEqual(['Continue with Acme SSO', 'Continue with Corp Login']);
    expect((await api(tokens.super_admin, 'DELETE', '/identity-providers/corp')).status).toBe(204);
    expect(await offeredAt(idp, idp.issuer)).toEqual(['Continue with Acme SSO']);
    expect(await api(tokens.super_admin, 'GET', '/identity-providers/corp')).toMatchObject({ status: 404 });
    const deleted = await idp.idp.database.db.selectFrom('audit_events').select('action').where('target_id', '=', 'corp').orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(deleted.action).toBe('identity-providers.delete');
  });
});

describe(`the identity providers' admin console (${backend})`, () => {
  let idp: TestIdp;
  let corp: FakeOidc;

  beforeAll(async () => {
    corp = await startFakeOidc({ clientId: 'idp-at-corp', clientSecret: 'corp-console-secret-0123456789', cookiePrefix: 'corpconsole' });
    idp = await startTestIdp({ backend });
    await idp.idp.accounts.createAccount({ email: 'root@example.com', password: 'root passphrase 1', roles: ['super_admin'], emailVerified: true });
  });
  afterAll(async () => {
    await idp?.destroy();
    await corp?.stop();
  });

  it('adds a provider from the console; a refused form comes back with its words and what was typed, never the secret', async () => {
    const browser = newBrowser();
    await submitLogin(browser, await browser.open(`${idp.issuer}/admin`), 'root@example.com', 'root passphrase 1');
    const list = await browser.open(`${idp.issuer}/admin/identity-providers`);
    expect(list.$('h1').text()).toBe('Identity providers');
    expect(list.$('nav a[aria-current=page]').text()).toBe('Identity providers');
    expect(list.$('.muted').text()).toContain('No identity providers yet.');

    const fields = { id: 'corp', name: 'Corp SSO', type: 'oidc', issuer: 'not a url', client_id: corp.clientId, client_secret: corp.clientSecret, domains: 'corp.test', enabled: 'yes' };
    const refused = (await browser.submit(list, 'form.new-provider', fields)).page!;
    expect(refused.status).toBe(400);
    expect(refused.$('#issuer').attr('aria-invalid')).toBe('true');
    expect(refused.$('#issuer-error').text()).toContain('Invalid URL');
    expect(refused.$('#name').val()).toBe('Corp SSO');
    expect(refused.$('#domains').val()).toBe('corp.test');
    expect(refused.$('#client_secret').val() ?? '').toBe('');
    expect(refused.html).not.toContain(corp.clientSecret);

    const unreachable = (await browser.submit(refused, 'form.new-provider', { ...fields, issuer: 'http://127.0.0.1:9/nobody' })).page!;
    expect(unreachable.status).toBe(422);
    expect(unreachable.$('#issuer-error').text()).toContain('does not answer its discovery');

    const added = (await browser.submit(unreachable, 'form.new-provider', { ...fields, issuer: corp.issuer })).page!;
    expect(added.url).toBe(`${idp.issuer}/admin/identity-providers/corp`);
    expect(added.$('h1').text()).toBe('Corp SSO');
    expect(added.$('.facts').text()).toContain(`${idp.issuer}/interaction/callback/corp`);
    expect(added.html).not.toContain(corp.clientSecret);
    expect(await offeredAt(idp, idp.issuer)).toEqual(['Continue with Corp SSO']);

    // Saving the edit form with the secret left blank keeps it.
    const renamed = (await browser.submit(added, 'form.edit-provider', { name: 'Corp Login' })).page!;
    expect(renamed.$('h1').text()).toBe('Corp Login');
    const row = await idp.idp.database.db.selectFrom('identity_providers').select('client_secret_sealed').where('id', '=', 'corp').executeTakeFirstOrThrow();
    expect(row.client_secret_sealed).toBeTruthy();

    const listed = await browser.open(`${idp.issuer}/admin/identity-providers`);
    const disabled = (await browser.submit(listed, 'form[action$="/corp/disable"]')).page!;
    expect(disabled.$('tbody tr').text()).toContain('disabled');
    expect(await offeredAt(idp, idp.issuer)).toEqual([]);
    const confirm = (await browser.submit(disabled, 'form[action$="/corp/delete"]')).page!;
    expect(confirm.$('p').first().text()).toContain('Delete the identity provider corp?');
    const gone = (await browser.submit(confirm, 'main form')).page!;
    expect(gone.$('tbody tr').length).toBe(0);
  });
});

const shared = backends.includes('postgres+redis') && backends.includes('postgres');
if (!shared) console.warn('TEST_DATABASE_URL and TEST_REDIS_URL are needed for the two-node tests: skipped.');

describe.skipIf(!shared).each(['postgres+redis', 'postgres'] as const)('two nodes on one database (%s): a provider managed on one is offered by the other', (nodeBackend) => {
  const nodes: TestIdp[] = [];
  let corp: FakeOidc;

  beforeAll(async () => {
    corp = await startFakeOidc({ clientId: 'idp-at-corp', clientSecret: 'corp-shared-secret-0123456789', cookiePrefix: `corp${nodeBackend.length}` });
    const first = await startTestIdp({ backend: nodeBackend });
    nodes.push(first);
    nodes.push(
      await startTestIdp({
        backend: nodeBackend,
        env: { ISSUER: first.issuer, DATA_DIR: first.dataDir, DATABASE_URL: first.shared.databaseUrl!, REDIS_KEY_PREFIX: first.shared.redisKeyPrefix },
      }),
    );
    corp.register(`${first.issuer}/interaction/callback/corp`);
  });
  afterAll(async () => {
    for (const node of nodes.reverse()) await node.destroy();
    await corp?.stop();
  });

  it('adds on node B, signs a person in on node A, disables and deletes on node A, gone on both', async () => {
    const [first, second] = nodes as [TestIdp, TestIdp];
    await first.idp.accounts.createAccount({ email: 'root@example.com', password: 'root passphrase 1', roles: ['super_admin'], emailVerified: true });
    const token = await adminToken(first, 'root@example.com', 'root passphrase 1');
    // Both nodes have read the (empty) list of providers.
    expect(await offeredAt(first, first.listening)).toEqual([]);
    expect(await offeredAt(first, second.listening)).toEqual([]);

    const entry = { id: 'corp', name: 'Corp SSO', type: 'oidc', issuer: corp.issuer, client_id: corp.clientId, client_secret: corp.clientSecret };
    expect((await call(second.listening, token, 'POST', '/identity-providers', entry)).status).toBe(201);
    await eventuallyOffered(first, first.listening, (buttons) => buttons.includes('Continue with Corp SSO'));

    corp.addAccount('corp-9', { email: 'eve@corp.test', email_verified: true });
    corp.signInAs('corp-9');
    const config = await relyingParty(first.issuer, webAppClient);
    const browser = newBrowser();
    const start = await startAuthorization(config);
    const login = await browser.open(start.url.href);
    const consent = (await browser.submit(login, 'form[action$="/federated/corp"]')).page!;
    expect(consent.$('h1').text(), consent.$('[role=alert]').text()).toBe('Allow access?');
    const signedIn = await exchangeCode(config, (await browser.submit(consent, 'form[action$="/confirm"]')).leftTo!, start);
    expect(signedIn.claims()).toMatchObject({ email: 'eve@corp.test', amr: ['fed'] });

    expect((await call(first.listening, token, 'PATCH', '/identity-providers/corp', { enabled: false })).status).toBe(200);
    await eventuallyOffered(first, second.listening, (buttons) => buttons.length === 0);
    expect((await call(first.listening, token, 'PATCH', '/identity-providers/corp', { enabled: true })).status).toBe(200);
    await eventuallyOffered(first, second.listening, (buttons) => buttons.includes('Continue with Corp SSO'));
    expect((await call(first.listening, token, 'DELETE', '/identity-providers/corp')).status).toBe(204);
    await eventuallyOffered(first, second.listening, (buttons) => buttons.length === 0);
    expect(await offeredAt(first, first.listening)).toEqual([]);
  });
});

describe(`a stored provider's secrets under a rotated SECRETS_KEY (${backends[0]})`, () => {
  let idp: TestIdp;
  let corp: FakeOidc;
  const key = (kid: string) => `${kid}:${Buffer.alloc(32, kid).toString('base64')}`;
  afterAll(async () => {
    await idp?.destroy();
    await corp?.stop();
  });

  it('seals them again under the new first key at start, so the old key can go', async () => {
    corp = await startFakeOidc({ clientId: 'idp-at-corp', clientSecret: 'corp-rotated-secret-0123456789', cookiePrefix: 'corprotated' });
    idp = await startTestIdp({ backend: backends[0]!, env: { SECRETS_KEY: key('k1') } });
    await idp.idp.accounts.createAccount({ email: 'root@example.com', password: 'root passphrase 1', roles: ['super_admin'], emailVerified: true });
    const token = await adminToken(idp, 'root@example.com', 'root passphrase 1');
    const entry = { id: 'corp', name: 'Corp SSO', type: 'oidc', issuer: corp.issuer, client_id: corp.clientId, client_secret: corp.clientSecret };
    expect((await call(idp.issuer, token, 'POST', '/identity-providers', entry)).status).toBe(201);
    const sealed = () => idp.idp.database.db.selectFrom('identity_providers').select('client_secret_sealed').where('id', '=', 'corp').executeTakeFirstOrThrow();
    expect((await sealed()).client_secret_sealed).toMatch(/^k1\./);

    await idp.stop();
    await idp.start({ SECRETS_KEY: `${key('k2')},${key('k1')}` });
    expect((await sealed()).client_secret_sealed).toMatch(/^k2\./);
    await idp.stop();
    await idp.start({ SECRETS_KEY: key('k2') });
    expect(await offeredAt(idp, idp.issuer)).toEqual(['Continue with Corp SSO']);

    // A key that opens nothing: the entry is left out, said why, and the IdP starts all the same.
    await idp.stop();
    await idp.start({ SECRETS_KEY: key('k3') });
    expect(await offeredAt(idp, idp.issuer)).toEqual([]);
    expect(idp.logs.lines.find((line) => line.msg === 'a stored identity provider cannot be used; it is not offered')).toMatchObject({ provider: 'corp' });
  });
});
