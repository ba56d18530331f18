import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as oidc from 'openid-client';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Browser } from '../support/browser.ts';
import { runAdmin } from '../support/cli.ts';
import { adminCliClient, backends, startTestIdp, type TestIdp } from '../support/idp.ts';
import { newBrowser, relyingParty, signIn, startAuthorization, submitLogin } from '../support/rp.ts';
import { fastWebhooks, startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const backend = backends.at(-1)!;
const CLI_REDIRECT = 'http://127.0.0.1:53682/callback';

describe(`webhooks in the admin API (${backend})`, () => {
  let idp: TestIdp;
  let receiver: WebhookReceiver;
  let api: string;
  const tokens: Record<'admin' | 'super_admin', string> = { admin: '', super_admin: '' };

  async function adminToken(email: string, password: string) {
    const cli = await relyingParty(idp.issuer, adminCliClient);
    const start = await startAuthorization(cli, { redirect_uri: CLI_REDIRECT, scope: 'openid admin', resource: api });
    const callback = await signIn(new Browser([CLI_REDIRECT]), start.url, { email, password });
    return (await oidc.authorizationCodeGrant(cli, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce })).access_token;
  }

  async function call(token: string, method: string, route: string, body?: unknown) {
    const response = await fetch(`${api}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    idp = await startTestIdp({ backend, env: fastWebhooks });
    api = `${idp.issuer}/admin/api`;
    for (const role of ['admin', 'super_admin'] as const) {
      await idp.idp.accounts.createAccount({ email: `${role}@example.com`, password: `${role} passphrase 1`, roles: [role], emailVerified: true });
      tokens[role] = await adminToken(`${role}@example.com`, `${role} passphrase 1`);
    }
  });
  afterAll(async () => {
    await idp?.destroy();
    await receiver?.close();
  });

  it('lets only super admins manage webhooks, and refuses bad input with a clear error', async () => {
    expect((await call(tokens.admin, 'GET', '/webhooks')).status).toBe(403);
    expect((await call(tokens.admin, 'POST', '/webhooks', { url: receiver.url })).status).toBe(403);

    const badType = await call(tokens.super_admin, 'POST', '/webhooks', { url: receiver.url, events: ['account.exploded'] });
    expect(badType).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(badType.body.error_description).toContain('account.created');
    expect(await call(tokens.super_admin, 'POST', '/webhooks', { url: 'ftp://example.com/x' })).toMatchObject({ status: 400 });
    expect(await call(tokens.super_admin, 'POST', '/webhooks', { url: 'http://169.254.169.254/latest' })).toMatchObject({ status: 400 });
    expect(await call(tokens.super_admin, 'POST', '/webhooks', { url: receiver.url, surprise: true })).toMatchObject({ status: 400 });
    expect(await call(tokens.super_admin, 'GET', '/webhooks/not-an-id')).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect((await call(tokens.super_admin, 'GET', '/webhooks')).body.items).toEqual([]);
  });

  it('shows the secret once, signs with old and new secrets during a rotation, lists deliveries and resends one', async () => {
    const created = await call(tokens.super_admin, 'POST', '/webhooks', { url: receiver.url, events: ['account.updated'], description: 'CRM sync' });
    expect(created.status).toBe(201);
    const { id, secret } = created.body as { id: string; secret: string };
    expect(secret).toMatch(/^whsec_/);
    const listed = await call(tokens.super_admin, 'GET', '/webhooks');
    expect(listed.body.items).toEqual([expect.objectContaining({ id, url: receiver.url, events: ['account.updated'], enabled: true })]);
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    expect(JSON.stringify((await call(tokens.super_admin, 'GET', `/webhooks/${id}`)).body)).not.toContain(secret);

    const rotated = await call(tokens.super_admin, 'POST', `/webhooks/${id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    const newSecret = rotated.body.secret as string;
    expect(newSecret).not.toBe(secret);

    const account = await idp.idp.accounts.createAccount({ email: 'erin@example.com', password: 'erin passphrase 1' });
    expect((await call(tokens.super_admin, 'PATCH', `/users/${account.id}`, { name: 'Erin Example' })).status).toBe(200);
    const [request] = await receiver.waitFor(1);
    const headers = request!.headers as Record<string, string>;
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    // A receiver still on the old secret and one already on the new both accept it.
    for (const key of [secret, newSecret]) {
      expect(new Webhook(key).verify(request!.body, headers)).toMatchObject({
        type: 'account.updated',
        actor: { type: 'admin' },
        subject: { id: account.id },
        data: { changes: { name: [null, 'Erin Example'] } },
      });
    }

    const deliveries = await call(tokens.super_admin, 'GET', `/webhooks/${id}/deliveries`);
    const [delivery] = deliveries.body.items;
    expect(delivery).toMatchObject({ event_type: 'account.updated', status: 'delivered', attempts: 1, last_status_code: 204 });
    expect(await call(tokens.super_admin, 'POST', `/webhooks/${id}/deliveries/${delivery.id}/resend`)).toMatchObject({ status: 202 });
    const [, again] = await receiver.waitFor(2);
    expect(again!.headers['webhook-id']).toBe(request!.headers['webhook-id']);

    expect((await call(tokens.super_admin, 'PATCH', `/webhooks/${id}`, { enabled: false })).body).toMatchObject({ enabled: false });
    expect((await call(tokens.super_admin, 'DELETE', `/webhooks/${id}`)).status).toBe(204);
    expect((await call(tokens.super_admin, 'GET', `/webhooks/${id}`)).status).toBe(404);
  });
});

describe('webhooks from npm run admin', () => {
  let dataDir: string;
  const env = () => ({ DATA_DIR: dataDir, NODE_ENV: 'test' });
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'idp-webhook-cli-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('creates, lists, rotates and deletes a subscription; the server delivers to it with the printed secret', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const refused = await runAdmin(['create-webhook', '--url', receiver.url, '--events', 'account.created,nonsense'], { env: env() });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('events');

      const created = await runAdmin(['create-webhook', '--url', receiver.url, '--events', 'account.created'], { env: env() });
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      const id = /Created webhook ([0-9a-f-]{36})/.exec(created.stdout)![1]!;
      const secret = /secret \(shown this once\): (whsec_\S+)/.exec(created.stdout)![1]!;
      const listed = await runAdmin(['list-webhooks'], { env: env() });
      expect(listed.stdout).toContain(id);
      expect(listed.stdout).not.toContain(secret);

      const idp = await startTestIdp({ backend: 'pglite', env: { ...fastWebhooks, DATA_DIR: dataDir } });
      try {
        const account = await idp.idp.accounts.createAccount({ email: 'fay@example.com', password: 'fay passphrase 1' });
        const [request] = await receiver.waitFor(1);
        expect(new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>)).toMatchObject({ type: 'account.created', subject: { id: account.id } });
      } finally {
        await idp.stop();
      }

      const rotated = await runAdmin(['rotate-webhook-secret', id], { env: env() });
      expect(rotated.stdout).toMatch(/New signing secret \(shown this once\): whsec_/);
      expect((await runAdmin(['delete-webhook', id], { env: env() })).stdout).toContain(`Deleted webhook ${id}`);
      expect((await runAdmin(['delete-webhook', id], { env: env() })).code).toBe(2);
      expect((await runAdmin(['list-webhooks'], { env: env() })).stdout).toContain('No webhooks.');
    } finally {
      await receiver.close();
    }
  }, 240_000);
});

describe(`webhooks in the admin console (${backend})`, () => {
  let idp: TestIdp;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    idp = await startTestIdp({ backend, env: fastWebhooks });
    for (const role of ['admin', 'super_admin'] as const) {
      await idp.idp.accounts.createAccount({ email: `${role}@example.com`, password: `${role} passphrase 1`, roles: [role], emailVerified: true });
    }
  });
  afterAll(async () => {
    await idp?.destroy();
    await receiver?.close();
  });

  async function signInToConsole(role: string) {
    const browser = newBrowser();
    const login = await browser.open(`${idp.issuer}/admin`);
    const result = await submitLogin(browser, login, `${role}@example.com`, `${role} passphrase 1`);
    return { browser, page: result.page! };
  }

  it('lets a super admin create a webhook (secret shown once), see its deliveries and send one again', async () => {
    const { browser } = await signInToConsole('super_admin');
    const list = await browser.open(`${idp.issuer}/admin/webhooks`);
    expect(list.$('h1').text()).toBe('Webhooks');

    const refused = await browser.submit(list, 'form[action="/admin/webhooks"]', { url: 'not a url' });
    expect(refused.page!.status).toBe(400);

    const created = (await browser.submit(list, 'form[action="/admin/webhooks"]', { url: receiver.url, description: 'CRM', events: 'account.created' })).page!;
    expect(created.status).toBe(201);
    const secret = created.$('code.webhook-secret').text();
    expect(secret).toMatch(/^whsec_/);

    const account = await idp.idp.accounts.createAccount({ email: 'jo@example.com', password: 'jo passphrase 123' });
    const [request] = await receiver.waitFor(1);
    expect(new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>)).toMatchObject({ subject: { id: account.id } });

    const again = await browser.open(`${idp.issuer}/admin/webhooks`);
    expect(again.html).not.toContain(secret);
    let detail = await browser.open(new URL(again.$('tbody a').first().attr('href')!, again.url).href);
    for (let i = 0; i < 50 && !detail.$('tr.delivery.delivered').length; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      detail = await browser.open(detail.url);
    }
    const row = detail.$('tr.delivery').first();
    expect(row.text()).toContain('account.created');
    expect(row.text()).toContain('delivered');
    expect(row.find('td').eq(3).text().trim()).toBe('204');
    expect(row.find('td').eq(4).text()).toMatch(/\d+ ms/);

    await browser.submit(detail, 'tr.delivery form[action$="/resend"]');
    const [, resent] = await receiver.waitFor(2);
    expect(resent!.headers['webhook-id']).toBe(request!.headers['webhook-id']);
  });

  it('refuses an admin who is not a super admin', async () => {
    const { browser } = await signInToConsole('admin');
    const page = await browser.open(`${idp.issuer}/admin/webhooks`);
    expect(page.status).toBe(403);
  });
});
