import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Browser } from '../support/browser.ts';
import { backends, firstPartyClient, RP_LOGOUT, RP_REDIRECT, startTestIdp, type TestIdp, tvClient, webAppClient } from '../support/idp.ts';
import { relyingParty, startAuthorization, submitLogin } from '../support/rp.ts';

/** A browser whose every request carries the X-Forwarded-For an attacker chose (and the proxy extended). */
class ForwardingBrowser extends Browser {
  forwardedFor = '';
  constructor() {
    super([RP_REDIRECT, RP_LOGOUT]);
  }
  override fetch(url: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers);
    if (this.forwardedFor) headers.set('x-forwarded-for', this.forwardedFor);
    return super.fetch(url, { ...init, headers });
  }
}

/** A GET with headers fetch() will not send as given (Host), or an absolute-form request target. */
function rawGet(listening: string, target: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(listening);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path: target, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const evilHeaders = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-port': '8443' };

describe.each(backends)('the client address behind a proxy (%s)', (backend) => {
  let idp: TestIdp;

  beforeAll(async () => {
    idp = await startTestIdp({ backend, env: { TRUST_PROXY: '1', RATE_LIMIT_IP_LOGIN: '3', LOGIN_MAX_FAILURES: '3' } });
    await idp.idp.accounts.createAccount({ email: 'rita@example.com', password: 'the right passphrase', emailVerified: true });
    await idp.idp.accounts.createAccount({ email: 'sam@example.com', password: 'the right passphrase', emailVerified: true });
  });
  afterAll(async () => {
    await idp?.destroy();
  });

  it('counts per-IP sign-in limits on the address the proxy saw, whatever the client prepends to X-Forwarded-For', async () => {
    const browser = new ForwardingBrowser();
    const config = await relyingParty(idp.issuer, webAppClient);
    let page = await browser.open((await startAuthorization(config)).url.href);
    for (let n = 1; n <= 3; n += 1) {
      browser.forwardedFor = `203.0.113.${n}, 127.0.0.1`;
      page = (await submitLogin(browser, page, `nobody${n}@example.com`, 'guess guess')).page!;
      expect(page.status).toBe(400);
    }
    browser.forwardedFor = '203.0.113.4, 127.0.0.1';
    const limited = (await submitLogin(browser, page, 'nobody4@example.com', 'guess guess')).page!;
    expect(limited.status).toBe(429);
  });

  it('records the address the proxy saw in the sign-in history and the audit log, not the forged one', async () => {
    const browser = new ForwardingBrowser();
    // Another client address (as the proxy appends it), so the limit of the test above is not in the way.
    const config = await relyingParty(idp.issuer, webAppClient);
    let page = await browser.open((await startAuthorization(config)).url.href);
    for (let n = 1; n <= 3; n += 1) {
      browser.forwardedFor = `203.0.113.${50 + n}, 198.51.100.7`;
      page = (await submitLogin(browser, page, 'rita@example.com', `wrong guess ${n}`)).page ?? page;
    }
    const { db } = idp.idp.database;
    const history = await db.selectFrom('login_history').innerJoin('accounts', 'accounts.id', 'login_history.account_id').select('login_history.ip').where('accounts.email', '=', 'rita@example.com').execute();
    expect(history.map((row) => row.ip)).toEqual(['198.51.100.7', '198.51.100.7', '198.51.100.7']);
    const forged = await db.selectFrom('login_history').select('ip').where('ip', 'like', '203.0.113.%').execute();
    expect(forged).toEqual([]);
    const lockouts = await db.selectFrom('audit_events').select('ip').where('action', '=', 'account.lockout').execute();
    expect(lockouts.map((row) => row.ip)).toEqual(['198.51.100.7']);
  });

  it('records the address the proxy saw for a successful sign-in and on its session', async () => {
    const browser = new ForwardingBrowser();
    browser.forwardedFor = '203.0.113.99, 198.51.100.8';
    const config = await relyingParty(idp.issuer, firstPartyClient);
    const page = await browser.open((await startAuthorization(config, { scope: 'openid' })).url.href);
    expect((await submitLogin(browser, page, 'sam@example.com', 'the right passphrase')).leftTo?.searchParams.get('code')).toBeTruthy();
    const { db } = idp.idp.database;
    const sam = await db.selectFrom('accounts').select('id').where('email', '=', 'sam@example.com').executeTakeFirstOrThrow();
    const history = await db.selectFrom('login_history').select(['ip', 'outcome']).where('account_id', '=', sam.id).execute();
    expect(history).toEqual([{ ip: '198.51.100.8', outcome: 'success' }]);
    const sessions = await db.selectFrom('oidc_account_index').select('ip').where('account_id', '=', sam.id).where('model', '=', 'Session').execute();
    expect(sessions.map((row) => row.ip)).toEqual(['198.51.100.8']);
  });
});

describe.each([
  ['without TRUST_PROXY', {}],
  ['with TRUST_PROXY=true', { TRUST_PROXY: 'true' }],
  ['with a trusted proxy list', { TRUST_PROXY: '127.0.0.1/8, ::1' }],
] as const)('endpoints come from ISSUER alone, %s', (_name, env) => {
  let idp: TestIdp;

  beforeAll(async () => {
    idp = await startTestIdp({ backend: 'pglite', env });
  });
  afterAll(async () => {
    await idp?.destroy();
  });

  it('publishes ISSUER\'s endpoints in discovery whatever Host and X-Forwarded-* say, with a Cache-Control for shared caches', async () => {
    const discovery = await rawGet(idp.listening, '/.well-known/openid-configuration', evilHeaders);
    expect(discovery.status).toBe(200);
    expect(discovery.headers['cache-control']).toBe('public, max-age=300');
    const metadata = JSON.parse(discovery.body) as Record<string, unknown>;
    expect(metadata.issuer).toBe(idp.issuer);
    const urls = Object.entries(metadata).filter(([, value]) => typeof value === 'string' && /^https?:/.test(value));
    expect(urls.length).toBeGreaterThan(8);
    for (const [, url] of urls) expect(url === idp.issuer || String(url).startsWith(`${idp.issuer}/`), String(url)).toBe(true);
    expect(discovery.body).not.toContain('evil.example');
  });

  it('does the same for a request in absolute form naming another host', async () => {
    const discovery = await rawGet(idp.listening, 'http://evil.example/.well-known/openid-configuration', evilHeaders);
    expect(discovery.status).toBe(200);
    expect(discovery.body).not.toContain('evil.example');
    expect(JSON.parse(discovery.body).token_endpoint).toBe(`${idp.issuer}/token`);
  });

  it('serves the JWKS with a Cache-Control short enough for key rotation', async () => {
    const jwks = await rawGet(idp.listening, '/jwks', evilHeaders);
    expect(jwks.status).toBe(200);
    expect(jwks.headers['cache-control']).toBe('public, max-age=300');
  });

  it('names ISSUER in the device flow\'s verification URIs and in redirects', async () => {
    const device = await fetch(`${idp.listening}/device/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
      body: new URLSearchParams({ client_id: tvClient.client_id, scope: 'openid' }),
    });
    const answer = (await device.json()) as { verification_uri: string; verification_uri_complete: string };
    expect(answer.verification_uri).toBe(`${idp.issuer}/device`);
    expect(answer.verification_uri_complete.startsWith(`${idp.issuer}/device?`)).toBe(true);

    const authorization = new URL(`${idp.listening}/auth`);
    authorization.search = new URLSearchParams({ client_id: webAppClient.client_id, response_type: 'code', scope: 'openid', redirect_uri: RP_REDIRECT, code_challenge: 'QxGCApuGbzB7jRxJ6VLHHxAHMAeVl8-bNqojD2m8Guw', code_challenge_method: 'S256' }).toString();
    const redirected = await rawGet(idp.listening, authorization.pathname + authorization.search, evilHeaders);
    expect(redirected.status).toBe(303);
    const location = new URL(String(redirected.headers.location), idp.issuer);
    expect(location.origin).toBe(new URL(idp.issuer).origin);
    expect(JSON.stringify(redirected.headers)).not.toContain('evil.example');
  });
});
