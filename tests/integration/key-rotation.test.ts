import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { runAdmin } from '../support/cli.ts';
import { Browser } from '../support/browser.ts';
import { adminCliClient, backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';

const grace = { email: 'grace@example.com', password: 'grace password 123' };
const cookieKey = () => randomBytes(32).toString('base64url');
const kidOf = (jwt: string) => decodeProtectedHeader(jwt).kid;

async function publishedKeys(idp: TestIdp): Promise<JSONWebKeySet> {
  return (await fetch(`${idp.issuer}/jwks`)).json() as Promise<JSONWebKeySet>;
}

async function signInWithRefreshToken(idp: TestIdp, browser = newBrowser()) {
  const config = await relyingParty(idp.issuer, webAppClient);
  const start = await startAuthorization(config, { scope: 'openid email offline_access', prompt: 'consent' });
  return { config, browser, tokens: await exchangeCode(config, await signIn(browser, start.url, grace), start) };
}

describe('signing key rotation', () => {
  let dir: string;
  let jwksFile: string;
  let idp: TestIdp | undefined;
  const env = () => ({ NODE_ENV: 'test', DATA_DIR: dir, JWKS_FILE: jwksFile });

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'idp-keys-'));
    jwksFile = path.join(dir, 'jwks.json');
  });
  afterEach(async () => {
    vi.useRealTimers();
    await idp?.destroy();
    idp = undefined;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('publishes a rotated key at once and signs with it only from its time, without a restart', async () => {
    const generated = await runAdmin(['generate-jwks'], { env: env() });
    writeFileSync(jwksFile, generated.stdout);
    const original = JSON.parse(generated.stdout).keys as { kid: string; alg: string }[];
    const originalRsa = original.find((key) => key.alg === 'RS256')!.kid;

    const rotated = await runAdmin(['keys', 'rotate', '--activate-in', '1h'], { env: env() });
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/added \S+ \(RS256\): published now, signs from /);
    expect(rotated.stdout).toMatch(/added \S+ \(ES256\): published now, signs from /);
    const keys = JSON.parse(readFileSync(jwksFile, 'utf8')).keys as { kid: string; alg: string; activates_at?: number }[];
    expect(keys).toHaveLength(4);
    const { kid: newRsa, activates_at: activatesAt } = keys.find((key) => key.alg === 'RS256' && key.activates_at)!;

    const listed = await runAdmin(['keys', 'list'], { env: env() });
    expect(listed.stdout).toContain(`${originalRsa} (RS256)  signing`);
    expect(listed.stdout).toMatch(new RegExp(`${newRsa} \\(RS256\\)  published, signs from `));

    idp = await startTestIdp({ backend: 'pglite', env: { JWKS_FILE: jwksFile, COOKIE_KEYS: cookieKey() } });
    await idp.idp.accounts.createAccount({ ...grace, emailVerified: true });

    const published = await publishedKeys(idp);
    expect(published.keys.map((key) => key.kid).sort()).toEqual(keys.map((key) => key.kid).sort());
    expect(JSON.stringify(published)).not.toMatch(/"d"|activates_at/);

    const { config, tokens } = await signInWithRefreshToken(idp);
    expect(kidOf(tokens.id_token!)).toBe(originalRsa);

    // The clock of the IdP (in this process) moves past the new keys' time; nothing restarts.
    vi.useFakeTimers({ toFake: ['Date'], now: activatesAt! * 1000 + 1000 });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(kidOf(refreshed.id_token!)).toBe(newRsa);

    // A relying party holding the published set verifies tokens of both keys.
    const verifyWith = createLocalJWKSet(await publishedKeys(idp));
    for (const idToken of [tokens.id_token!, refreshed.id_token!]) {
      await expect(jwtVerify(idToken, verifyWith, { issuer: idp.issuer, audience: webAppClient.client_id })).resolves.toBeTruthy();
    }

    // Rotating again before the new keys sign keeps every key (when old keys go is unit-tested).
    const again = await runAdmin(['keys', 'rotate'], { env: env() });
    expect(again.stdout).not.toContain('removed');
    expect(JSON.parse(readFileSync(jwksFile, 'utf8')).keys).toHaveLength(6);
  }, 40_000);

  it('takes the key set from the JWKS variable, and refuses a broken one by name', async () => {
    const jwks = (await runAdmin(['generate-jwks'], { env: env() })).stdout;
    idp = await startTestIdp({ backend: 'pglite', env: { JWKS: jwks, COOKIE_KEYS: cookieKey() } });
    const published = await publishedKeys(idp);
    expect(published.keys.map((key) => key.kid).sort()).toEqual(JSON.parse(jwks).keys.map((key: { kid: string }) => key.kid).sort());
    await idp.destroy();
    idp = undefined;

    const publicOnly = JSON.stringify({ keys: JSON.parse(jwks).keys.map(({ d: _d, ...rest }: { d: string }) => rest) });
    await expect(startTestIdp({ backend: 'pglite', env: { JWKS: publicOnly, COOKIE_KEYS: cookieKey() } })).rejects.toThrow(
      /JWKS: keys\[0\] is not a private key/,
    );
    const rotateFromVariable = await runAdmin(['keys', 'rotate'], { env: { ...env(), JWKS_FILE: undefined, JWKS: jwks } });
    expect(rotateFromVariable.code).toBe(0);
    expect(rotateFromVariable.stderr).toContain('Store the JSON below as JWKS on every node');
    expect(JSON.parse(rotateFromVariable.stdout).keys).toHaveLength(4);
  });
});

const shared = backends.includes('postgres+redis');
const CLI_REDIRECT = 'http://127.0.0.1:53682/callback';

describe.skipIf(!shared)('signing key rotation with two nodes running on one PostgreSQL and Redis', () => {
  let dir: string;
  const nodes: TestIdp[] = [];
  afterAll(async () => {
    for (const node of nodes.reverse()) await node.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Polls until `check` holds (the nodes take up the file within seconds), failing after 10 s. */
  async function eventually(check: () => Promise<boolean>) {
    for (let tries = 0; tries < 100 && !(await check()); tries++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await check()).toBe(true);
  }

  it('publishes keys added by `keys rotate` on every node without a restart, signs with them after the delay, and drops removed ones', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'idp-live-keys-'));
    const jwksFile = path.join(dir, 'jwks.json');
    // JWKS_MAX_AGE: 1 lets the new keys sign after 2 s; the shortest --activate-in follows it.
    const env = { NODE_ENV: 'test', DATA_DIR: dir, JWKS_FILE: jwksFile, JWKS_MAX_AGE: '1', COOKIE_KEYS: cookieKey() };
    writeFileSync(jwksFile, (await runAdmin(['generate-jwks'], { env })).stdout);
    const original = JSON.parse(readFileSync(jwksFile, 'utf8')).keys as { kid: string; alg: string }[];

    const first = await startTestIdp({ backend: 'postgres+redis', env });
    nodes.push(first);
    const second = await startTestIdp({
      backend: 'postgres+redis',
      env: { ...env, ISSUER: first.issuer, DATABASE_URL: first.shared.databaseUrl!, REDIS_KEY_PREFIX: first.shared.redisKeyPrefix },
    });
    nodes.push(second);
    await first.idp.accounts.createAccount({ ...grace, roles: ['admin'], emailVerified: true });
    const jwksOf = async (node: TestIdp) => ((await (await fetch(`${node.listening}/jwks`)).json()) as JSONWebKeySet).keys.map((key) => key.kid!).sort();

    const rotated = await runAdmin(['keys', 'rotate', '--activate-in', '2s'], { env });
    expect(rotated.stderr).toBe('');
    expect(rotated.stdout).toContain('Every running node reading this file publishes the new keys within seconds');
    const rotatedKeys = JSON.parse(readFileSync(jwksFile, 'utf8')).keys as { kid: string; alg: string; activates_at?: number }[];
    const newRsa = rotatedKeys.find((key) => key.alg === 'RS256' && key.activates_at)!;
    const allKids = rotatedKeys.map((key) => key.kid).sort();
    await eventually(async () => JSON.stringify(await jwksOf(first)) === JSON.stringify(allKids));
    await eventually(async () => JSON.stringify(await jwksOf(second)) === JSON.stringify(allKids));

    // After the delay, both nodes sign with the new key (the sign-in runs on the first, the refresh on the second).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, newRsa.activates_at! * 1000 + 500 - Date.now())));
    const { config, tokens } = await signInWithRefreshToken(first);
    expect(kidOf(tokens.id_token!)).toBe(newRsa.kid);
    const { supportsPKCE: _method, ...metadata } = config.serverMetadata();
    const atSecond = new oidc.Configuration({ ...metadata, token_endpoint: `${second.listening}/token` }, webAppClient.client_id, webAppClient.client_secret);
    oidc.allowInsecureRequests(atSecond);
    const refreshed = await oidc.refreshTokenGrant(atSecond, tokens.refresh_token!);
    expect(kidOf(refreshed.id_token!)).toBe(newRsa.kid);
    for (const node of [first, second]) {
      const verifyWith = createLocalJWKSet((await (await fetch(`${node.listening}/jwks`)).json()) as JSONWebKeySet);
      for (const idToken of [tokens.id_token!, refreshed.id_token!]) {
        await expect(jwtVerify(idToken, verifyWith, { issuer: first.issuer, audience: webAppClient.client_id })).resolves.toBeTruthy();
      }
    }

    // The admin API (a resource server checking our JWT access tokens itself) takes the new key too, on the other node.
    const api = `${first.issuer}/admin/api`;
    const cli = await relyingParty(first.issuer, adminCliClient);
    const cliStart = await startAuthorization(cli, { redirect_uri: CLI_REDIRECT, scope: 'openid admin', resource: api });
    const callback = await signIn(new Browser([CLI_REDIRECT]), cliStart.url, grace);
    const adminToken = (await oidc.authorizationCodeGrant(cli, callback, { pkceCodeVerifier: cliStart.verifier, expectedState: cliStart.state, expectedNonce: cliStart.nonce }))
      .access_token;
    expect(kidOf(adminToken)).toBe(newRsa.kid);
    expect((await fetch(`${second.listening}/admin/api/roles`, { headers: { authorization: `Bearer ${adminToken}` } })).status).toBe(200);

    // A key taken out of the file (an operator removing a retired key) leaves both nodes' JWKS too.
    const withoutOld = rotatedKeys.filter((key) => !original.some((old) => old.kid === key.kid));
    writeFileSync(`${jwksFile}.new`, JSON.stringify({ keys: withoutOld }));
    renameSync(`${jwksFile}.new`, jwksFile);
    const remaining = withoutOld.map((key) => key.kid).sort();
    await eventually(async () => JSON.stringify(await jwksOf(first)) === JSON.stringify(remaining));
    await eventually(async () => JSON.stringify(await jwksOf(second)) === JSON.stringify(remaining));
  }, 60_000);
});

describe('cookie key rotation', () => {
  let idp: TestIdp | undefined;
  afterEach(async () => {
    await idp?.destroy();
    idp = undefined;
  });

  async function silentSignIn(browser: ReturnType<typeof newBrowser>) {
    const config = await relyingParty(idp!.issuer, webAppClient);
    const silent = await startAuthorization(config, { prompt: 'none', scope: 'openid' });
    return (await browser.navigate(silent.url.href)).leftTo!;
  }

  it('keeps people signed in while a new key is added first, and drops sessions only when the old key goes', async () => {
    const oldKey = cookieKey();
    const newKey = cookieKey();
    idp = await startTestIdp({ backend: 'pglite', env: { COOKIE_KEYS: oldKey } });
    await idp.idp.accounts.createAccount({ ...grace, emailVerified: true });
    const { browser } = await signInWithRefreshToken(idp);

    await idp.stop();
    await idp.start({ COOKIE_KEYS: `${newKey},${oldKey}` });
    const stillIn = await silentSignIn(browser);
    expect(stillIn.searchParams.get('error')).toBeNull();
    expect(stillIn.searchParams.get('code')).toBeTruthy();

    await idp.stop();
    await idp.start({ COOKIE_KEYS: cookieKey() });
    expect((await silentSignIn(browser)).searchParams.get('error')).toBe('login_required');
  });
});
