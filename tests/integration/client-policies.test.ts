import type { ClientMetadata } from 'oidc-provider';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { backends, firstPartyClient, RP_REDIRECT, startTestIdp, testClients, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';

const grace = { email: 'grace@example.com', password: 'grace hopper password' };

/** A confidential client registered before PKCE was required. */
const legacyClient = {
  client_id: 'legacy',
  client_secret: 'legacy-secret-0123456789abcdef',
  redirect_uris: [RP_REDIRECT],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  pkce_optional: true,
} satisfies ClientMetadata;

/** Issue 15: PKCE for every code-flow client, pushed requests bound to their client, introspection of one's own tokens. */
describe.each(backends)('client policies (%s)', (backend) => {
  let idp: TestIdp;
  const webApp = () => relyingParty(idp.issuer, webAppClient);
  const firstParty = () => relyingParty(idp.issuer, firstPartyClient);

  beforeAll(async () => {
    idp = await startTestIdp({
      backend,
      clients: [
        ...testClients,
        legacyClient,
      ],
    });
    await idp.idp.accounts.createAccount({ ...grace, name: 'Grace Hopper', emailVerified: true });
  });
  afterAll(async () => idp?.destroy());

  it('a confidential client must use PKCE: without a code_challenge the request is refused', async () => {
    const start = await startAuthorization(await webApp());
    const withoutPkce = new URL(start.url);
    withoutPkce.searchParams.delete('code_challenge');
    withoutPkce.searchParams.delete('code_challenge_method');
    const refused = await newBrowser().navigate(withoutPkce.href);
    expect(refused.leftTo?.searchParams.get('error')).toBe('invalid_request');
    expect(refused.leftTo?.searchParams.get('error_description')).toMatch(/PKCE/);
    expect(refused.leftTo?.searchParams.get('code')).toBeNull();
  });

  it('a legacy confidential client registered with pkce_optional may still sign in without PKCE', async () => {
    const legacy = await relyingParty(idp.issuer, legacyClient);
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(legacy, { redirect_uri: RP_REDIRECT, scope: 'openid', state });
    const callback = await signIn(newBrowser(), url, grace);
    const tokens = await oidc.authorizationCodeGrant(legacy, callback, { expectedState: state });
    expect(tokens.claims()?.sub).toBeTruthy();
  });

  it("a pushed request URI presented with another client's id answers an error page, never a redirect to that client", async () => {
    const pusher = await webApp();
    const verifier = oidc.randomPKCECodeVerifier();
    const url = await oidc.buildAuthorizationUrlWithPAR(pusher, {
      redirect_uri: RP_REDIRECT,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'state-of-web-app',
    });
    // The attacker's client (first-party, same redirect URI host) presents web-app's request_uri.
    const stolen = new URL(url);
    stolen.searchParams.set('client_id', firstPartyClient.client_id);
    const answer = await newBrowser().navigate(stolen.href);
    expect(answer.leftTo).toBeUndefined();
    expect(answer.page?.status).toBe(400);
    expect(answer.page?.$('h1').text()).toBe('Sign-in could not continue');
    expect(answer.page?.html).not.toContain('state-of-web-app');

    // The same attack by POST.
    const posted = await newBrowser().navigate(`${idp.issuer}/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: firstPartyClient.client_id, request_uri: url.searchParams.get('request_uri')!, redirect_uri: RP_REDIRECT }).toString(),
    });
    expect(posted.leftTo).toBeUndefined();
    expect(posted.page?.status).toBeGreaterThanOrEqual(400);

    // The request URI still works for the client that pushed it.
    const callback = await signIn(newBrowser(), url, grace);
    expect(callback.searchParams.get('state')).toBe('state-of-web-app');
  });

  it("introspection: a confidential client learns nothing about another client's access or refresh tokens", async () => {
    const config = await webApp();
    const start = await startAuthorization(config, { scope: 'openid offline_access', prompt: 'consent' });
    const tokens = await exchangeCode(config, await signIn(newBrowser(), start.url, grace), start);

    const other = await firstParty();
    expect(await oidc.tokenIntrospection(other, tokens.access_token)).toEqual({ active: false });
    expect(await oidc.tokenIntrospection(other, tokens.refresh_token!)).toEqual({ active: false });

    const own = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(own).toMatchObject({ active: true, client_id: webAppClient.client_id });
    expect((await oidc.tokenIntrospection(config, tokens.refresh_token!)).active).toBe(true);
  });
});
