import Koa from 'koa';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';

import { securityHeaders } from '../../src/http/security-headers.ts';

/** Serves the app on a free loopback port for this describe block; returns the URL of a path. */
function serve(app: Koa): (path: string) => string {
  const server = createServer(app.callback()).listen(0, '127.0.0.1');
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  return (path) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
}

function appWith(production: boolean): Koa {
  const app = new Koa();
  app.silent = true;
  app.use(securityHeaders({ production }));
  app.use((ctx) => {
    if (ctx.path === '/form-post') {
      // As node-oidc-provider does for its form_post page: it adjusts the policy it finds.
      ctx.set('Content-Security-Policy', `${ctx.response.get('Content-Security-Policy')};script-src 'self' 'sha256-abc'`);
      ctx.body = 'form';
    } else if (ctx.path === '/ok') {
      ctx.body = { ok: true };
    }
  });
  return app;
}

describe('security headers in production', () => {
  const url = serve(appWith(true));

  it('are on every response, answered or not', async () => {
    for (const [path, status] of [['/ok', 200], ['/nowhere', 404]] as const) {
      const response = await fetch(url(path));
      expect(response.status, path).toBe(status);
      const csp = response.headers.get('content-security-policy');
      expect(csp, path).toContain("default-src 'self'");
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).toContain('upgrade-insecure-requests');
      expect(csp, path).not.toContain('http:');
      expect(response.headers.get('strict-transport-security'), path).toBe('max-age=31536000; includeSubDomains');
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(response.headers.get('x-frame-options'), path).toBe('SAMEORIGIN');
      expect(response.headers.get('referrer-policy'), path).toBe('no-referrer');
      expect(response.headers.get('cross-origin-opener-policy'), path).toBe('same-origin');
    }
  });

  it('let what answers adjust them afterwards', async () => {
    const response = await fetch(url('/form-post'));
    expect(response.headers.get('content-security-policy')).toContain("'sha256-abc'");
  });
});

describe('security headers in development', () => {
  const url = serve(appWith(false));

  it('allow http images and send no HSTS', async () => {
    const response = await fetch(url('/ok'));
    expect(response.headers.get('content-security-policy')).toContain("img-src 'self' data: https: http:");
    expect(response.headers.get('content-security-policy')).not.toContain('upgrade-insecure-requests');
    expect(response.headers.get('strict-transport-security')).toBeNull();
  });
});
