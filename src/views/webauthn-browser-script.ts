import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Middleware } from 'koa';

export const WEBAUTHN_BROWSER_SCRIPT = '/static/vendor/simplewebauthn-browser.js';

/**
 * The prebuilt browser bundle of @simplewebauthn/browser (it defines `SimpleWebAuthnBrowser`), served
 * from node_modules as shipped: the version is pinned in package.json, and no copy lives in the repo.
 */
export function webauthnBrowserScript(): Middleware {
  const entry = createRequire(import.meta.url).resolve('@simplewebauthn/browser');
  const bundle = readFileSync(path.join(path.dirname(entry), '..', 'dist', 'bundle', 'index.umd.min.js'));
  return async (ctx, next) => {
    if (ctx.path !== WEBAUTHN_BROWSER_SCRIPT || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    ctx.type = 'application/javascript; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = bundle;
  };
}
