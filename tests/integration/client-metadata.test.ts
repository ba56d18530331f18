import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Browser } from '../support/browser.ts';
import { adminCliClient, backends, RP_REDIRECT, startTestIdp, testClients, type TestIdp } from '../support/idp.ts';
import { relyingParty, signIn, startAuthorization } from '../support/rp.ts';

const backend = backends.at(-1)!;
const CLI_REDIRECT = 'http://127.0.0.1:53682/callback';
const superAdmin = { email: 'root@example.com', password: 'root passphrase 1' };

/** An admin-API caller for one IdP: a super admin's token through admin-cli. */
async function adminApiOf(idp: TestIdp) {
  await idp.idp.accounts.createAccount({ ...superAdmin, roles: ['super_admin'], emailVerified: true });
  const api = `${idp.issuer}/admin/api`;
  const cli = await relyingParty(idp.issuer, adminCliClient);
  const start = await startAuthorization(cli, { redirect_uri: CLI_REDIRECT, scope: 'openid admin', resource: api });
  const callback = await signIn(new Browser([CLI_REDIRECT]), start.url, superAdmin);
  const token = (await oidc.authorizationCodeGrant(cli, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce })).access_token;
  return async (method: string, route: string, body?: unknown) => {
    const response = await fetch(`${api}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
}

const webClient = { client_name: 'Probe', redirect_uris: [RP_REDIRECT], grant_types: ['authorization_code'], response_types: ['code'] };

/** Issue 15, item 8: URIs an admin registers cannot point the IdP at itself, the network behind it, or the cloud's metadata service. */
describe(`client metadata URIs (${backend})`, () => {
  describe('with private network requests allowed (development, tests)', () => {
    let idp: TestIdp;
    let call: Awaited<ReturnType<typeof adminApiOf>>;
    beforeAll(async () => {
      idp = await startTestIdp({ backend });
      call = await adminApiOf(idp);
    });
    afterAll(async () => idp?.destroy());

    it.each([
      ['backchannel_logout_uri', 'http://169.254.169.254/latest/meta-data/'],
      ['jwks_uri', 'http://169.254.169.254/computeMetadata/v1/'],
      ['jwks_uri', 'http://[::ffff:169.254.169.254]/'],
      ['jwks_uri', 'http://2852039166/'],
      ['logo_uri', 'http://metadata.google.internal/logo.png'],
      ['sector_identifier_uri', 'https://169.254.170.2/v2/credentials'],
      ['request_uris', ['http://0.0.0.0:8080/request']],
    ])('refuses %s %j: a metadata-service or special address', async (field, value) => {
      const refused = await call('POST', '/clients', { ...webClient, [field]: value });
      expect(refused).toMatchObject({ status: 400, body: { field } });
    });

    it.each(['http://localhost/cb', 'https://user:pw@app.example.com/cb', 'http://app.example.com/cb', 'https://app.example.com/cb#x'])(
      'refuses the redirect URI %s',
      async (uri) => {
        const refused = await call('POST', '/clients', { ...webClient, redirect_uris: [uri] });
        expect(refused).toMatchObject({ status: 400, body: { field: 'redirect_uris' } });
      },
    );

    it('refuses a user name and password in any URI, and accepts a client on public https addresses', async () => {
      expect(await call('POST', '/clients', { ...webClient, client_uri: 'https://user:pw@app.example.com/' })).toMatchObject({ status: 400, body: { field: 'client_uri' } });
      const created = await call('POST', '/clients', {
        ...webClient,
        redirect_uris: ['https://app.example.com/cb', RP_REDIRECT],
        jwks_uri: 'https://app.example.com/jwks',
        logo_uri: 'https://app.example.com/logo.png',
        backchannel_logout_uri: 'https://app.example.com/backchannel',
      });
      expect(created.status).toBe(201);
      // Updating keeps to the same rules.
      const patched = await call('PATCH', `/clients/${created.body.client_id}`, { backchannel_logout_uri: 'http://169.254.169.254/' });
      expect(patched).toMatchObject({ status: 400, body: { field: 'backchannel_logout_uri' } });
    });

    it('refuses the PKCE opt-out for a public client (only legacy confidential clients may have it)', async () => {
      const refused = await call('POST', '/clients', { ...webClient, token_endpoint_auth_method: 'none', pkce_optional: true });
      expect(refused).toMatchObject({ status: 400, body: { field: 'pkce_optional' } });
    });

    it('keeps loopback back-channel receivers working here (the test harness and development use them)', async () => {
      const created = await call('POST', '/clients', { ...webClient, backchannel_logout_uri: 'http://127.0.0.1:9/backchannel' });
      expect(created.status).toBe(201);
    });
  });

  describe('with private network requests refused (production)', () => {
    let idp: TestIdp;
    let call: Awaited<ReturnType<typeof adminApiOf>>;
    beforeAll(async () => {
      idp = await startTestIdp({ backend, env: { ALLOW_PRIVATE_NETWORK_REQUESTS: 'false' } });
      call = await adminApiOf(idp);
    });
    afterAll(async () => idp?.destroy());

    it.each([
      ['backchannel_logout_uri', 'http://127.0.0.1:9/backchannel'],
      ['jwks_uri', 'http://10.0.0.5/jwks'],
      ['jwks_uri', 'http://192.168.1.1/jwks'],
      ['logo_uri', 'http://[::1]/logo.png'],
      ['logo_uri', 'http://localhost/logo.png'],
      ['jwks_uri', 'http://[fd00::1]/jwks'],
    ])('refuses %s %s: a loopback or private address', async (field, value) => {
      expect(await call('POST', '/clients', { ...webClient, [field]: value })).toMatchObject({ status: 400, body: { field } });
    });
  });

  // A fresh embedded database is migrated before the clients are checked: slow on a busy machine.
  it('a clients file with a metadata-service URI stops the IdP at start, naming the client and the field', { timeout: 120_000 }, async () => {
    const evil = { ...testClients[0]!, client_id: 'evil', backchannel_logout_uri: 'http://169.254.169.254/latest' };
    await expect(startTestIdp({ backend: 'pglite', clients: [evil] })).rejects.toThrow(/client evil: backchannel_logout_uri: .*169\.254\.169\.254 is a metadata service/);
  });

  it('a clients file taking a built-in client’s id, or one id twice, stops the IdP at start', { timeout: 120_000 }, async () => {
    for (const id of ['account', 'admin-console', 'admin-cli']) {
      await expect(startTestIdp({ backend: 'pglite', clients: [{ ...testClients[0]!, client_id: id }] }), id).rejects.toThrow(`client ${id}: this id is the IdP's own built-in client`);
    }
    await expect(startTestIdp({ backend: 'pglite', clients: [testClients[0]!, testClients[0]!] })).rejects.toThrow(`client ${testClients[0]!.client_id} is listed twice`);
  });
});
