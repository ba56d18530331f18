import Tokens from 'csrf';
import type { Middleware } from 'koa';

import { CsrfError } from './errors.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const COOKIE = 'csrf_secret';
const tokens = new Tokens();

/**
 * Synchronizer tokens for our own forms: the secret lives in a signed, httpOnly cookie,
 * each page gets a token derived from it in `ctx.state.csrfToken`, and every unsafe
 * request must send that token back as the `_csrf` form field. Runs after the body parser.
 */
export function csrfProtection(): Middleware {
  return async (ctx, next) => {
    let secret = ctx.cookies.get(COOKIE, { signed: true });
    if (!secret) {
      secret = tokens.secretSync();
      ctx.cookies.set(COOKIE, secret, { signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/' });
    }
    if (!SAFE_METHODS.has(ctx.method)) {
      const token = (ctx.request.body as Record<string, unknown> | undefined)?._csrf;
      if (typeof token !== 'string' || !tokens.verify(secret, token)) throw new CsrfError();
    }
    ctx.state.csrfToken = tokens.create(secret);
    await next();
  };
}
