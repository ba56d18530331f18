import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization } from '../support/rp.ts';

const backend = backends.at(-1)!;

describe(`account API (${backend})`, () => {
  let idp: TestIdp;
  let config: oidc.Configuration;
  let counter = 0;

  async function signedIn(scope = 'openid account offline_access', email?: string) {
    counter += 1;
    const address = email ?? `lee${counter}@example.com`;
    if (!email) await idp.idp.accounts.createAccount({ email: address, password: 'lee password 123', emailVerified: true });
    const start = await startAuthorization(config, { scope, prompt: 'consent' });
    const tokens = await exchangeCode(config, await signIn(newBrowser(), start.url, { email: address, password: 'lee password 123' }), start);
    return { email: address, tokens };
  }

  async function call(token: string | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(`${idp.issuer}/account/api${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  }

  beforeAll(async () => {
    idp = await startTestIdp({ backend });
    config = await relyingParty(idp.issuer, webAppClient);
  });
  afterAll(() => idp?.destroy());

  it('answers only a token that carries the account scope', async () => {
    const missing = await call(undefined, 'GET', '/me');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer realm="account"/);
    expect((await call('not-a-token', 'GET', '/me')).body).toMatchObject({ error: 'invalid_token' });
    const { tokens } = await signedIn('openid email');
    expect(await call(tokens.access_token, 'GET', '/me')).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });
  });

  it('shows and edits the profile, refusing a bad field by name', async () => {
    const { email, tokens } = await signedIn();
    const me = await call(tokens.access_token, 'GET', '/me');
    expect(me).toMatchObject({ status: 200, body: { sub: tokens.claims()!.sub, email, email_verified: true, name: null } });

    expect(await call(tokens.access_token, 'PATCH', '/me', { zoneinfo: 'Mars/Olympus' })).toMatchObject({ status: 400, body: { error: 'invalid_request', field: 'zoneinfo' } });
    expect(await call(tokens.access_token, 'PATCH', '/me', { email: 'other@example.com' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    const patched = await call(tokens.access_token, 'PATCH', '/me', { name: 'Lee Example', zoneinfo: 'Asia/Tokyo', locale: 'ja' });
    expect(patched).toMatchObject({ status: 200, body: { name: 'Lee Example', zoneinfo: 'Asia/Tokyo', locale: 'ja', email } });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.claims()).toMatchObject({ sub: tokens.claims()!.sub });
  });

  it('lists sessions, ends one (its refresh token dies), and signs out everywhere', async () => {
    const first = await signedIn();
    const second = await signedIn(undefined, first.email);
    const listed = await call(first.tokens.access_token, 'GET', '/sessions');
    expect(listed.status).toBe(200);
    expect(listed.body.sessions).toHaveLength(2);
    expect(listed.body.sessions[0]).toMatchObject({ id: expect.any(String), ip: expect.any(String), client_ids: [webAppClient.client_id] });

    // Each token knows its own session.
    const secondOwn = (await call(second.tokens.access_token, 'GET', '/sessions')).body.sessions.find((session: { current: boolean }) => session.current);
    expect(listed.body.sessions.filter((session: { current: boolean }) => session.current)).toHaveLength(1);
    expect(listed.body.sessions.find((session: { current: boolean }) => session.current).id).not.toBe(secondOwn.id);
    expect((await call(first.tokens.access_token, 'DELETE', '/sessions/not-a-session')).status).toBe(404);
    expect((await call(first.tokens.access_token, 'DELETE', `/sessions/${secondOwn.id}`)).status).toBe(204);
    await expect(oidc.refreshTokenGrant(config, second.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await call(first.tokens.access_token, 'GET', '/sessions')).body.sessions).toHaveLength(1);

    expect((await call(first.tokens.access_token, 'DELETE', '/sessions')).status).toBe(204);
    // The calling app's grant came from that session: its token ends too.
    expect((await call(first.tokens.access_token, 'GET', '/me')).status).toBe(401);
  });

  it('lets the token’s own app call it from a browser (CORS), and no other origin', async () => {
    const { tokens } = await signedIn();
    const preflight = await fetch(`${idp.issuer}/account/api/me`, {
      method: 'OPTIONS',
      headers: { origin: 'http://127.0.0.1:9', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    const own = await call(tokens.access_token, 'GET', '/me', undefined, { origin: 'http://127.0.0.1:9' });
    expect(own.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:9');
    const foreign = await call(tokens.access_token, 'GET', '/me', undefined, { origin: 'https://evil.example' });
    expect(foreign.status).toBe(200);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });
});
