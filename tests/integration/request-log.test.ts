import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestIdp, type TestIdp } from '../support/idp.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('the request log an operator reads', () => {
  let idp: TestIdp;
  beforeAll(async () => {
    idp = await startTestIdp({ backend: 'pglite', env: { TRUST_PROXY: '1' } });
  });
  afterAll(() => idp?.destroy());

  it('logs one line per request with the client address the proxy saw, the proxy\'s request id, the route and status, never the query', async () => {
    const response = await fetch(`${idp.issuer}/interaction/some-interaction-id?code=query-secret-value`, {
      headers: { 'x-forwarded-for': '198.51.100.9, 203.0.113.5', 'x-request-id': 'edge-7.a_B' },
    });
    await response.arrayBuffer();
    expect(response.headers.get('x-request-id')).toBe('edge-7.a_B');

    const lines = idp.logs.forRequest('edge-7.a_B').filter((line) => line.msg === 'request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      ip: '203.0.113.5',
      method: 'GET',
      route: '/interaction/:uid',
      path: '/interaction/some-interaction-id',
      status: response.status,
    });
    expect(typeof lines[0]!.durationMs).toBe('number');
    expect(idp.logs.raw).not.toContain('query-secret-value');
  });

  it('gives a request a fresh id when the incoming one is not a sane token', async () => {
    for (const incoming of ['has space', 'x'.repeat(129), 'quote"d', '']) {
      const response = await fetch(`${idp.issuer}/.well-known/openid-configuration`, { headers: { 'x-request-id': incoming } });
      await response.arrayBuffer();
      const requestId = response.headers.get('x-request-id');
      expect(requestId).toMatch(UUID);
      expect(idp.logs.forRequest(requestId).map((line) => line.route)).toEqual(['/.well-known/openid-configuration']);
    }
    expect(idp.logs.raw).not.toContain('x'.repeat(129));
  });
});
