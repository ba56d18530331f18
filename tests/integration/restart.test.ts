import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as oidc from 'openid-client';
import { afterEach, describe, expect, it } from 'vitest';

import { backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';

const frank = { email: 'frank@example.com', password: 'frank password 123' };

async function signInWithRefreshToken(idp: TestIdp, browser = newBrowser()) {
  const config = await relyingParty(idp.issuer, webAppClient);
  const start = await startAuthorization(config, { scope: 'openid email offline_access', prompt: 'consent' });
  return exchangeCode(config, await signIn(browser, start.url, frank), start);
}

describe.each(backends)('state kept across restarts (%s)', (backend) => {
  let idp: TestIdp | undefined;
  afterEach(async () => {
    await idp?.destroy();
    idp = undefined;
  });

  it('keeps sessions and refresh tokens valid after the IdP restarts on the same data', async () => {
    idp = await startTestIdp({ backend });
    await idp.idp.accounts.createAccount({ ...frank, emailVerified: true });
    const browser = newBrowser();
    const tokens = await signInWithRefreshToken(idp, browser);
    const { sub } = tokens.claims()!;

    await idp.stop();
    await idp.start();

    const config = await relyingParty(idp.issuer, webAppClient);
    // Still signed in: no password asked.
    const silent = await startAuthorization(config, { prompt: 'none', scope: 'openid email' });
    const silentCallback = (await browser.navigate(silent.url.href)).leftTo!;
    expect(silentCallback.searchParams.get("error_description")).toBeNull();
    const silentTokens = await exchangeCode(config, silentCallback, silent);
    expect(silentTokens.claims()?.sub).toBe(sub);

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    // The ID token is signed by the kept key and validated against the JWKS served after the restart.
    expect(refreshed.claims()?.sub).toBe(sub);
    expect((await oidc.fetchUserInfo(config, refreshed.access_token, sub)).email).toBe(frank.email);
  });

  it('creates the first super admin from ADMIN_EMAIL once, without logging the password', async () => {
    const adminPassword = 'bootstrap admin password 9';
    idp = await startTestIdp({ backend, env: { ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: adminPassword } });
    expect(idp.logs.lines.find((line) => line.msg === 'created the first super admin')).toMatchObject({ email: 'root@example.com' });

    const config = await relyingParty(idp.issuer, webAppClient);
    const start = await startAuthorization(config, { scope: 'openid roles' });
    const tokens = await exchangeCode(config, await signIn(newBrowser(), start.url, { email: 'root@example.com', password: adminPassword }), start);
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo.roles).toEqual(['super_admin', 'user']);

    // Restarting with other admin settings creates nobody: a super admin exists.
    await idp.stop();
    const passwordFile = path.join(idp.dataDir, 'admin-password');
    writeFileSync(passwordFile, 'another admin password\n');
    await idp.start({ ADMIN_EMAIL: 'second@example.com', ADMIN_PASSWORD: '', ADMIN_PASSWORD_FILE: passwordFile });
    const admins = await idp.idp.database.db.selectFrom('account_roles').where('role_name', '=', 'super_admin').select('account_id').execute();
    expect(admins).toHaveLength(1);
    expect(idp.logs.raw).not.toContain(adminPassword);
    expect(idp.logs.raw).not.toContain('another admin password');
  });

  it('rehashes a password at sign-in when the argon2 parameters rise', async () => {
    idp = await startTestIdp({ backend });
    const account = await idp.idp.accounts.createAccount({ ...frank, emailVerified: true });
    expect(account.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);

    await idp.stop();
    await idp.start({ ARGON2_ITERATIONS: '3' });
    await signInWithRefreshToken(idp);
    const stored = await idp.idp.database.db.selectFrom('accounts').select('password_hash').where('id', '=', account.id).executeTakeFirstOrThrow();
    expect(stored.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=3\$/);
  });
});
