import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Cluster } from 'ioredis';
import * as oidc from 'openid-client';
import { afterAll, describe, expect, it } from 'vitest';

import { startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.ts';
import { hasRedisServer, redisCli, type RedisServer, startRedisServer, waitFor } from '../support/redis-server.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';

const requireServices = process.env.CI === 'true';
if (!hasRedisServer && !requireServices) console.warn('redis-server is not installed: the Redis Cluster and Sentinel tests are skipped.');

const ivy = { email: 'ivy@example.com', password: 'ivy password 1234' };

/** Signs in, refreshes, revokes: every model the flow touches goes through the configured Redis. */
async function fullSignIn(idp: TestIdp) {
  await idp.idp.accounts.createAccount({ ...ivy, emailVerified: true });
  const config = await relyingParty(idp.issuer, webAppClient);
  const browser = newBrowser();
  const start = await startAuthorization(config, { scope: 'openid email offline_access', prompt: 'consent' });
  const tokens = await exchangeCode(config, await signIn(browser, start.url, ivy), start);
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  expect((await oidc.fetchUserInfo(config, refreshed.access_token, tokens.claims()!.sub)).email).toBe(ivy.email);
  await oidc.tokenRevocation(config, refreshed.refresh_token!);
  expect((await oidc.tokenIntrospection(config, refreshed.access_token)).active).toBe(false);
  expect((await fetch(`${idp.issuer}/readyz`)).status).toBe(200);
}

describe.skipIf(!hasRedisServer && !requireServices)('the IdP on other Redis topologies', () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('runs on a 3-node Redis Cluster from REDIS_CLUSTER_NODES', async () => {
    const cluster: TestRedisCluster = await startRedisCluster();
    cleanups.push(() => cluster.stop());
    const idp = await startTestIdp({
      backend: 'pglite',
      env: { REDIS_CLUSTER_NODES: cluster.ports.map((port) => `127.0.0.1:${port}`).join(',') },
    });
    cleanups.push(() => idp.destroy());
    expect(idp.idp.redis).toBeInstanceOf(Cluster);
    await fullSignIn(idp);
  });

  it('runs through Redis Sentinel from REDIS_SENTINELS and REDIS_SENTINEL_NAME', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'idp-sentinel-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const master: RedisServer = await startRedisServer(dir);
    cleanups.push(() => master.stop());
    const config = path.join(dir, 'sentinel.conf');
    writeFileSync(config, `sentinel monitor idp-master 127.0.0.1 ${master.port} 1\nsentinel down-after-milliseconds idp-master 5000\n`);
    const sentinel = await startRedisServer(dir, ['--sentinel'], config);
    cleanups.push(() => sentinel.stop());
    await waitFor('the sentinel to know the master', async () =>
      (await redisCli(sentinel.port, 'sentinel', 'get-master-addr-by-name', 'idp-master')).includes(String(master.port)),
    );

    const idp = await startTestIdp({
      backend: 'pglite',
      env: { REDIS_SENTINELS: `127.0.0.1:${sentinel.port}`, REDIS_SENTINEL_NAME: 'idp-master' },
    });
    cleanups.push(() => idp.destroy());
    await fullSignIn(idp);
    // The sessions really are on the master the sentinel named.
    expect(Number(await redisCli(master.port, 'dbsize'))).toBeGreaterThan(0);
  });
});
