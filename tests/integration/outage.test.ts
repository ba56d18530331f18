import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, describe, expect, it } from 'vitest';

import type { Browser } from '../support/browser.ts';
import { startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { freeRedisPort, hasRedisServer, redisCli, waitFor } from '../support/redis-server.ts';
import { basicAuthorization, exchangeCode, newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';

const henry = { email: 'henry@example.com', password: 'henry password 123' };
const requireServices = process.env.CI === 'true';
const postgresUrl = process.env.TEST_DATABASE_URL;

if (!hasRedisServer && !requireServices) console.warn('redis-server is not installed: the Redis outage test is skipped.');
if (!postgresUrl) console.warn('TEST_DATABASE_URL is not set: the PostgreSQL outage test is skipped.');

/** What a person and a relying party see while a store is down, and that everything comes back after. */
async function outageScenario(idp: TestIdp, store: 'redis' | 'database', cut: () => Promise<void>, restore: () => Promise<void>) {
  await idp.idp.accounts.createAccount({ ...henry, emailVerified: true });
  const config = await relyingParty(idp.issuer, webAppClient);
  const browser: Browser = newBrowser();
  const start = await startAuthorization(config, { scope: 'openid email offline_access', prompt: 'consent' });
  const tokens = await exchangeCode(config, await signIn(browser, start.url, henry), start);
  const pending = await browser.open((await startAuthorization(config, { prompt: 'login' })).url.href);
  expect(pending.$('h1').text()).toBe('Sign in');

  await cut();

  expect((await fetch(`${idp.issuer}/healthz`)).status).toBe(200);
  const readyz = await fetch(`${idp.issuer}/readyz`);
  expect(readyz.status).toBe(503);
  const report = (await readyz.json()) as { checks: Record<string, string> };
  expect(report.checks[store]).not.toBe("ok");

  const token = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: basicAuthorization(webAppClient),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }),
  });
  expect(token.status).toBe(503);
  expect(await token.json()).toMatchObject({ error: 'server_error' });

  const authorize = await browser.navigate((await startAuthorization(config)).url.href);
  expect(authorize.page?.status).toBe(503);
  expect(authorize.page?.$('h1').text()).toBe('Temporarily unavailable');

  const login = await browser.submit(pending, 'form[action$="/login"]', henry);
  expect(login.page?.status).toBe(503);
  expect(login.page?.$('h1').text()).toBe('Temporarily unavailable');

  await restore();
  await waitFor('the IdP to be ready again', async () => (await fetch(`${idp.issuer}/readyz`)).status === 200);

  // Nothing stored before the outage was lost: the session and the refresh token still work.
  const silent = await startAuthorization(config, { prompt: 'none', scope: 'openid email' });
  const silentTokens = await exchangeCode(config, (await browser.navigate(silent.url.href)).leftTo!, silent);
  expect(silentTokens.claims()?.sub).toBe(tokens.claims()?.sub);
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  expect((await oidc.fetchUserInfo(config, refreshed.access_token, tokens.claims()!.sub)).email).toBe(henry.email);
}

describe.skipIf(!hasRedisServer && !requireServices)('when Redis goes down', () => {
  let idp: TestIdp | undefined;
  let redis: ChildProcess | undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'idp-outage-redis-'));

  afterAll(async () => {
    await idp?.destroy();
    redis?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  async function startRedis(port: number) {
    // Persistence on, as in production: a restart must not lose sessions.
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'], {
      stdio: 'ignore',
    });
    await waitFor(`redis-server on ${port}`, async () => (await redisCli(port, 'ping').catch(() => '')).trim() === 'PONG');
  }

  it('answers 503 while it is down, keeps /healthz up, and resumes by itself with nothing lost', async () => {
    const port = await freeRedisPort();
    await startRedis(port);
    idp = await startTestIdp({ backend: 'pglite', env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
    expect(idp.idp.redis).toBeDefined();

    await outageScenario(
      idp,
      'redis',
      async () => {
        redis!.kill('SIGTERM');
        await once(redis!, 'exit');
      },
      () => startRedis(port),
    );
  });
});

describe.skipIf(!postgresUrl)('when PostgreSQL becomes unreachable', () => {
  let idp: TestIdp | undefined;
  afterAll(() => idp?.destroy());

  it('answers 503 while it is unreachable, keeps /healthz up, and resumes by itself with nothing lost', async () => {
    const target = new URL(postgresUrl!);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    idp = await startTestIdp({ backend: 'postgres', postgresPort: proxy.port });
    await outageScenario(idp, 'database', proxy.cut, proxy.restore);
  });
});
