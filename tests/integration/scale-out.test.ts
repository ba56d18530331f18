import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, describe, expect, it } from 'vitest';

import { runAdmin } from '../support/cli.ts';
import { backends, RP_LOGOUT, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';

const shared = backends.includes('postgres+redis');
if (!shared) console.warn('TEST_DATABASE_URL and TEST_REDIS_URL are needed for the two-node test: skipped.');

describe.skipIf(!shared)('two IdP nodes sharing PostgreSQL and Redis, as behind a load balancer', () => {
  const nodes: TestIdp[] = [];
  afterAll(async () => {
    for (const node of nodes.reverse()) await node.destroy();
  });

  async function twoNodes() {
    const first = await startTestIdp({ backend: 'postgres+redis' });
    nodes.push(first);
    // The second node: same public issuer, same keys (one DATA_DIR here, JWKS_FILE in production), same stores.
    const second = await startTestIdp({
      backend: 'postgres+redis',
      env: {
        ISSUER: first.issuer,
        DATA_DIR: first.dataDir,
        DATABASE_URL: first.shared.databaseUrl!,
        REDIS_KEY_PREFIX: first.shared.redisKeyPrefix,
      },
    });
    nodes.push(second);
    return [first, second] as const;
  }

  it('signs in on one node, refreshes and signs out on the other', async () => {
    const [first, second] = await twoNodes();
    await first.idp.accounts.createAccount({ email: 'nina@example.com', password: 'nina passphrase 1', emailVerified: true });

    const atFirst = await relyingParty(first.issuer, webAppClient);
    const browser = newBrowser();
    const start = await startAuthorization(atFirst, { scope: 'openid email offline_access', prompt: 'consent' });
    const tokens = await exchangeCode(atFirst, await signIn(browser, start.url, { email: 'nina@example.com', password: 'nina passphrase 1' }), start);

    // The same client, talking to the second node's endpoints.
    const secondBase = second.listening;
    const { supportsPKCE: _method, ...metadata } = atFirst.serverMetadata();
    const atSecond = new oidc.Configuration(
      {
        ...metadata,
        token_endpoint: `${secondBase}/token`,
        userinfo_endpoint: `${secondBase}/me`,
        jwks_uri: `${secondBase}/jwks`,
        end_session_endpoint: `${secondBase}/session/end`,
      },
      webAppClient.client_id,
      webAppClient.client_secret,
    );
    oidc.allowInsecureRequests(atSecond);
    const refreshed = await oidc.refreshTokenGrant(atSecond, tokens.refresh_token!);
    expect(refreshed.claims()?.sub).toBe(tokens.claims()?.sub);
    expect((await oidc.fetchUserInfo(atSecond, refreshed.access_token, tokens.claims()!.sub)).email).toBe('nina@example.com');

    const confirm = await browser.open(oidc.buildEndSessionUrl(atSecond, { id_token_hint: refreshed.id_token!, post_logout_redirect_uri: RP_LOGOUT }).href);
    expect((await browser.submit(confirm, 'form', {}, 'logout=yes')).leftTo?.href).toBe(RP_LOGOUT);
    const servedBySecond = second.logs.lines.filter((line) => line.msg === 'request').map((line) => `${line.method} ${line.path} ${line.status}`);
    // The logout page came from the second node; its form posts to ISSUER (the load balancer's address,
    // here the first node), since no URL is taken from the Host a request came in on.
    expect(servedBySecond).toEqual(expect.arrayContaining(['POST /token 200', 'GET /me 200', 'GET /session/end 200']));
    // Signed out everywhere: the first node no longer knows the session either.
    const silent = await startAuthorization(atFirst, { prompt: 'none', scope: 'openid email' });
    expect((await browser.navigate(silent.url.href)).leftTo?.searchParams.get('error')).toBe('login_required');
  });

  it('answers for an account as it is now, whichever node changed it: renamed, then disabled', async () => {
    const [first, second] = await twoNodes();
    const omar = await first.idp.accounts.createAccount({ email: 'omar@example.com', password: 'omar passphrase 1', name: 'Omar', emailVerified: true });
    const atFirst = await relyingParty(first.issuer, webAppClient);
    const start = await startAuthorization(atFirst, { scope: 'openid profile offline_access', prompt: 'consent' });
    const tokens = await exchangeCode(atFirst, await signIn(newBrowser(), start.url, { email: 'omar@example.com', password: 'omar passphrase 1' }), start);
    const userinfo = () => oidc.fetchUserInfo(atFirst, tokens.access_token, omar.id);
    expect((await userinfo()).name).toBe('Omar');
    expect((await userinfo()).name).toBe('Omar');

    // Written on the second node, as its account pages and admin console write (its tokens are not revoked here).
    const onSecond = second.idp.database.db.updateTable('accounts').where('id', '=', omar.id);
    await onSecond.set({ name: 'Omar Renamed' }).execute();
    expect((await userinfo()).name).toBe('Omar Renamed');

    await onSecond.set({ status: 'disabled' }).execute();
    await expect(userinfo()).rejects.toThrow();
    await expect(oidc.refreshTokenGrant(atFirst, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('answers for an account as the admin command line left it: an import that disables it is refused by every node at once', async () => {
    const [first] = await twoNodes();
    const lena = await first.idp.accounts.createAccount({ email: 'lena@example.com', password: 'lena passphrase 1', name: 'Lena', emailVerified: true });
    const rp = await relyingParty(first.issuer, webAppClient);
    const start = await startAuthorization(rp, { scope: 'openid profile' });
    const tokens = await exchangeCode(rp, await signIn(newBrowser(), start.url, { email: 'lena@example.com', password: 'lena passphrase 1' }), start);
    const userinfo = () => oidc.fetchUserInfo(rp, tokens.access_token, lena.id);
    expect((await userinfo()).name).toBe('Lena');

    const dir = mkdtempSync(path.join(tmpdir(), 'idp-scale-out-'));
    try {
      writeFileSync(path.join(dir, 'people.jsonl'), `${JSON.stringify({ email: 'lena@example.com', name: 'Lena', status: 'disabled' })}\n`);
      const env = { DATABASE_URL: first.shared.databaseUrl, REDIS_URL: process.env.TEST_REDIS_URL, REDIS_KEY_PREFIX: first.shared.redisKeyPrefix, DATA_DIR: dir };
      const imported = await runAdmin(['import-users', '--file', path.join(dir, 'people.jsonl'), '--on-conflict', 'update'], { env });
      expect(imported.stderr).toBe('');
      expect(imported.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await expect(userinfo()).rejects.toThrow();
  }, 60_000);
});
