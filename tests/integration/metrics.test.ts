import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization, submitLogin } from '../support/rp.ts';

/** The value of one sample in Prometheus text format, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `) ? wanted.every((label) => l.includes(label)) : false);
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe.each([backends.at(-1)!])('Prometheus metrics (%s)', (backend) => {
  let idp: TestIdp;
  beforeAll(async () => {
    idp = await startTestIdp({ backend });
    await idp.idp.accounts.createAccount({ email: 'otto@example.com', password: 'otto passphrase 1', emailVerified: true });
  });
  afterAll(() => idp?.destroy());

  it('counts requests by route, tokens by type, grants and sign-in outcomes after a sign-in', async () => {
    const config = await relyingParty(idp.issuer, webAppClient);
    const browser = newBrowser();
    const wrong = await browser.open((await startAuthorization(config)).url.href);
    await submitLogin(browser, wrong, 'otto@example.com', 'not his passphrase');
    const start = await startAuthorization(config, { scope: 'openid offline_access', prompt: 'consent' });
    await exchangeCode(config, await signIn(browser, start.url, { email: 'otto@example.com', password: 'otto passphrase 1' }), start);

    const response = await fetch(`${idp.issuer}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(sample(text, 'http_requests_total', { route: '/token', method: 'POST', status: '200' })).toBe(1);
    expect(sample(text, 'http_requests_total', { route: '/interaction/:uid/login', status: '400' })).toBe(1);
    expect(sample(text, 'oidc_tokens_issued_total', { type: 'AccessToken' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'oidc_tokens_issued_total', { type: 'RefreshToken' })).toBe(1);
    expect(sample(text, 'oidc_grants_total', { grant_type: 'authorization_code' })).toBe(1);
    expect(sample(text, 'login_attempts_total', { outcome: 'wrong_password', method: 'password' })).toBe(1);
    expect(sample(text, 'login_attempts_total', { outcome: 'success', method: 'password' })).toBe(1);
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    // Raw paths never become labels: interaction ids and codes stay out.
    expect(text).not.toMatch(/route="\/interaction\/[A-Za-z0-9_-]{20,}/);
  });
});

describe('metrics on a port of their own', () => {
  let idp: TestIdp;
  afterAll(() => idp?.destroy());

  it('serves /metrics only on METRICS_PORT when it is set', async () => {
    idp = await startTestIdp({ backend: 'pglite', env: { METRICS_PORT: '0' } });
    expect((await fetch(`${idp.issuer}/metrics`)).status).toBe(404);
    const server = createServer(idp.idp.metricsApp!.callback()).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('http_requests_total');
    } finally {
      server.close();
    }
  });
});
