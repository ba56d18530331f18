import * as oidc from 'openid-client';
import { afterAll, describe, expect, it } from 'vitest';

import { startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';

/**
 * The embedded database keeps accounts in memory as Redis-backed nodes do, under versions this process holds
 * (it alone can open DATA_DIR): every write of an account row replaces the version before it commits.
 */
describe('accounts kept in memory on the embedded database', () => {
  let idp: TestIdp;
  afterAll(async () => idp?.destroy());

  it('answers for an account as it is now: renamed, renamed through a match on another column, then disabled', async () => {
    idp = await startTestIdp({ backend: 'pglite' });
    const omar = await idp.idp.accounts.createAccount({ email: 'omar@example.com', password: 'omar passphrase 1', name: 'Omar', emailVerified: true });
    const rp = await relyingParty(idp.issuer, webAppClient);
    const start = await startAuthorization(rp, { scope: 'openid profile offline_access', prompt: 'consent' });
    const tokens = await exchangeCode(rp, await signIn(newBrowser(), start.url, { email: 'omar@example.com', password: 'omar passphrase 1' }), start);
    const userinfo = () => oidc.fetchUserInfo(rp, tokens.access_token, omar.id);
    expect((await userinfo()).name).toBe('Omar');
    expect((await userinfo()).name).toBe('Omar');

    const row = idp.idp.database.db.updateTable('accounts').where('id', '=', omar.id);
    await row.set({ name: 'Omar Renamed' }).execute();
    expect((await userinfo()).name).toBe('Omar Renamed');

    // A write the plugin cannot pin to one account (no `id =`) moves every account's version.
    await idp.idp.database.db.updateTable('accounts').set({ name: 'Omar Again' }).where('email', '=', 'omar@example.com').execute();
    expect((await userinfo()).name).toBe('Omar Again');

    await row.set({ status: 'disabled' }).execute();
    await expect(userinfo()).rejects.toThrow();
    await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
