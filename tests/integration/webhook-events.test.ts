import path from 'node:path';

import * as oidc from 'openid-client';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { importUsers } from '../../src/accounts/index.ts';
import { WEBHOOK_EVENT_TYPES } from '../../src/webhooks/index.ts';
import { backends, RP_LOGOUT, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { freePort } from '../support/ports.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';
import { startServerProcess } from '../support/server-process.ts';
import { linkIn, startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { fastWebhooks, startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const backend = backends.at(-1)!;
const context = { ip: '203.0.113.9', userAgent: 'test' };
const tokenOf = (link: string) => new URL(link).searchParams.get('token')!;

describe(`the webhook event catalogue (${backend})`, () => {
  let node: TestIdp;
  let smtp: TestSmtpServer;
  let receiver: WebhookReceiver;
  let secret: string;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    receiver = await startWebhookReceiver();
    node = await startTestIdp({ backend, env: { ...fastWebhooks, SMTP_URL: smtp.url, LOGIN_MAX_FAILURES: '3' } });
    ({ secret } = await node.idp.webhooks.create({ url: receiver.url }));
  });
  afterAll(async () => {
    await node?.destroy();
    await receiver?.close();
    await smtp?.close();
  });

  it('sends every event of the catalogue as each change happens, with no password, hash, token or secret in any payload or log', async () => {
    const { idp } = node;
    const passwords = ['first passphrase 1', 'second passphrase 2', 'third passphrase 3'];
    const email = 'gil@example.com';

    // account.created (registration), account.email_verified
    const { accountId } = await idp.lifecycle.register({ email, password: passwords[0]!, passwordConfirmation: passwords[0]!, returnTo: null });
    const verifyToken = tokenOf(linkIn(await smtp.waitFor(email, /./), '/account/verify-email'));
    await idp.lifecycle.verifyEmail(verifyToken);
    const self = { accountId, ip: context.ip };

    // signin.succeeded, signin.failed
    await idp.accounts.authenticate(email, passwords[0]!, context);
    await expect(idp.accounts.authenticate(email, 'not the passphrase', context)).rejects.toThrow();

    // account.updated, account.password_changed
    await idp.selfService.updateProfile(self, { name: 'Gil Example' });
    await idp.selfService.changePassword(self, passwords[0]!, passwords[1]!, passwords[1]!);

    // account.second_factor_added / removed (an authenticator app)
    const totp = await idp.secondFactors.startTotp(accountId, email);
    const recoveryCodes = await idp.secondFactors.confirmTotp(accountId, await idp.secondFactors.currentCode(totp.secret), context.ip);
    await idp.secondFactors.removeTotp(accountId, false, context.ip);

    // account.identity_linked / unlinked
    await idp.federation.link(accountId, { provider: 'google', subject: 'google-sub-1', email, emailVerified: true });
    await idp.federation.unlink(accountId, 'google');

    // account.role_granted / revoked, account.email_changed (by an admin), account.disabled / enabled
    const admin = { type: 'admin' as const, id: accountId };
    await idp.administration.grantRole(accountId, 'moderator', admin);
    await idp.administration.revokeRole(accountId, 'moderator', admin);
    const newEmail = 'gil.new@example.com';
    await idp.administration.updateProfile(accountId, { email: newEmail }, undefined, admin);
    await idp.administration.setStatus(accountId, 'disabled', admin);
    await idp.administration.setStatus(accountId, 'active', admin);

    // account.password_reset
    await idp.lifecycle.requestPasswordReset(newEmail, null);
    const resetToken = tokenOf(linkIn(await smtp.waitFor(newEmail, /./), '/account/reset-password'));
    await idp.lifecycle.resetPassword(resetToken, passwords[2]!, passwords[2]!, { passkeys: [], identities: [] });

    // grant.revoked, session.ended: a real sign-in at an app, then the person revokes the app and ends their sessions
    const rp = await relyingParty(node.issuer, webAppClient);
    const start = await startAuthorization(rp, { scope: 'openid email offline_access', prompt: 'consent' });
    const tokens = await exchangeCode(rp, await signIn(newBrowser(), start.url, { email: newEmail, password: passwords[2]! }), start);
    expect(await idp.sessions.revokeApp(accountId, webAppClient.client_id)).toBe(true);
    expect(await idp.sessions.endOthers(accountId, undefined)).toBeGreaterThan(0);

    // account.locked: another person's password guessed too often
    const other = await idp.accounts.createAccount({ email: 'hal@example.com', password: 'hal passphrase 12' });
    for (let i = 0; i < 3; i += 1) await expect(idp.accounts.authenticate('hal@example.com', `guess ${i}`, context)).rejects.toThrow();

    // account.deleted
    await idp.selfService.deleteAccount(self);

    const expected = new Set<string>(WEBHOOK_EVENT_TYPES);
    const types = () => new Set(receiver.received.map((request) => JSON.parse(request.body).type as string));
    const deadline = Date.now() + 20_000;
    while ([...expected].some((type) => !types().has(type)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect([...expected].filter((type) => !types().has(type))).toEqual([]);

    const events = receiver.received.map((request) => new Webhook(secret).verify(request.body, request.headers as Record<string, string>) as Record<string, any>);
    const first = (type: string, accountOf = accountId) => events.find((event) => event.type === type && event.subject.id === accountOf);
    expect(first('account.created')).toMatchObject({ actor: { type: 'account', id: accountId }, data: { email, email_verified: false, roles: ['user'] } });
    expect(first('account.updated')).toMatchObject({ data: { changes: { name: [null, 'Gil Example'] } } });
    expect(first('account.email_changed')).toMatchObject({ actor: { type: 'admin' }, data: { changes: { email: [email, newEmail] } } });
    expect(first('account.second_factor_added')).toMatchObject({ data: { method: 'totp' } });
    expect(first('account.role_granted')).toMatchObject({ data: { role: 'moderator' } });
    expect(first('signin.failed')).toMatchObject({ data: { reason: 'wrong_password', method: 'password' } });
    expect(first('grant.revoked')).toMatchObject({ data: { client_id: webAppClient.client_id } });
    expect(first('account.locked', other.id)).toMatchObject({ actor: { type: 'system' } });

    const secrets = [...passwords, 'hal passphrase 12', secret, totp.secret, verifyToken, resetToken, ...recoveryCodes, tokens.access_token, tokens.refresh_token!, '$argon2'];
    const payloads = receiver.received.map((request) => request.body).join('\n');
    const logs = node.logs.raw;
    for (const value of secrets) {
      expect(payloads).not.toContain(value);
      expect(logs).not.toContain(value);
    }
  }, 120_000);

  it('sends account.created and account.updated for an import, in its transaction, without the imported hashes; nothing for a dry run', async () => {
    const { idp } = node;
    const existing = await idp.accounts.createAccount({ email: 'lou@example.com', password: 'lou passphrase 12' });
    const hash = '$2b$10$abcdefghijklmnopqrstuu5dWxqvFN3d0rYbS8tR1k7Z1r3eYkQ2C';
    async function* records() {
      yield { line: 1, fields: { email: 'mo@example.com', name: 'Mo', password_hash: hash } };
      yield { line: 2, fields: { email: 'lou@example.com', name: 'Lou Imported' } };
    }
    const options = { onConflict: 'update' as const, dryRun: false, skipInvalid: false, createRoles: false, roleMap: new Map<string, string>() };
    const before = receiver.received.length;
    await importUsers(idp.database.db, records(), { ...options, dryRun: true });
    expect((await importUsers(idp.database.db, records(), options)).written).toBe(true);

    const imported = () => receiver.received.slice(before).map((request) => JSON.parse(request.body)).filter((event) => event.data?.imported);
    const deadline = Date.now() + 15_000;
    while (imported().length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const events = imported();
    expect(events).toHaveLength(2);
    expect(events.find((event) => event.type === 'account.created')).toMatchObject({ actor: { type: 'cli' }, data: { email: 'mo@example.com', name: 'Mo' } });
    expect(events.find((event) => event.type === 'account.updated')).toMatchObject({ subject: { id: existing.id }, data: { fields: { name: 'Lou Imported' } } });
    expect(JSON.stringify(events)).not.toContain(hash);
  });

  it('sends session.ended and grant.revoked when a person signs out at the IdP from an app', async () => {
    const { idp } = node;
    const account = await idp.accounts.createAccount({ email: 'kim@example.com', password: 'kim passphrase 12', emailVerified: true });
    const rp = await relyingParty(node.issuer, webAppClient);
    const browser = newBrowser();
    const start = await startAuthorization(rp, { scope: 'openid email', prompt: 'consent' });
    const tokens = await exchangeCode(rp, await signIn(browser, start.url, { email: 'kim@example.com', password: 'kim passphrase 12' }), start);
    const confirm = await browser.open(oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: RP_LOGOUT }).href);
    expect((await browser.submit(confirm, 'form', {}, 'logout=yes')).leftTo?.href).toBe(RP_LOGOUT);

    const about = (type: string) => receiver.received.map((request) => JSON.parse(request.body)).find((event) => event.type === type && event.subject.id === account.id);
    const deadline = Date.now() + 15_000;
    while (!(about('session.ended') && about('grant.revoked')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(about('session.ended')).toMatchObject({ actor: { type: 'account', id: account.id }, data: { reason: 'signed_out', client_id: webAppClient.client_id } });
    expect(about('grant.revoked')).toMatchObject({ data: { client_id: webAppClient.client_id } });
  });
});

describe.skipIf(!backends.includes('postgres'))('a node killed mid-delivery', () => {
  it('leaves the delivery to another node, which sends it again with the same webhook-id', async () => {
    const receiver = await startWebhookReceiver();
    receiver.answer('hang');
    const settings = { ...fastWebhooks, WEBHOOK_TIMEOUT_MS: '1500' };
    // This node polls too rarely to take part until it is restarted below.
    const survivor = await startTestIdp({ backend: 'postgres', env: { ...settings, WEBHOOK_POLL_MS: '60000' } });
    try {
      const { subscription } = await survivor.idp.webhooks.create({ url: receiver.url });
      const port = await freePort();
      const doomed = await startServerProcess(
        {
          ...settings,
          NODE_ENV: 'test',
          DATABASE_URL: survivor.shared.databaseUrl!,
          DATA_DIR: survivor.dataDir,
          CLIENTS_FILE: path.join(survivor.dataDir, 'clients.json'),
          LOG_LEVEL: 'warn',
        },
        port,
      );
      try {
        await survivor.idp.accounts.createAccount({ email: 'ivy@example.com', password: 'ivy passphrase 12' });
        const [held] = await receiver.waitFor(1);
        doomed.child.kill('SIGKILL');
        await new Promise((resolve) => doomed.child.once('exit', resolve));

        await survivor.stop();
        await survivor.start({ WEBHOOK_POLL_MS: '50' });
        const [, resent] = await receiver.waitFor(2, 20_000);
        expect(resent!.headers['webhook-id']).toBe(held!.headers['webhook-id']);
        let [row] = await survivor.idp.webhooks.deliveries(subscription.id);
        for (let i = 0; i < 50 && row?.status === 'pending'; i += 1) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          [row] = await survivor.idp.webhooks.deliveries(subscription.id);
        }
        expect(row).toMatchObject({ status: 'delivered', attempts: 2, last_status_code: 204 });
      } finally {
        await doomed.stop();
      }
    } finally {
      await survivor.destroy();
      await receiver.close();
    }
  }, 150_000);
});
