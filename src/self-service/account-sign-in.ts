import { createHash, randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';

import { PageError } from '../http/index.ts';
import { decodeCookieJson, encodeCookieJson } from '../web/index.ts';

const CLIENT_ID = 'account';
const FLOW_COOKIE = 'account_sign_in';
const FLOW_MS = 15 * 60 * 1000;

/**
 * The account pages as a built-in, first-party client of this IdP (as the admin console is): a person who
 * opens /account signed out signs in through an ordinary authorization request and comes back. The pages
 * rely on the IdP session that the sign-in leaves in this browser, so the code is not redeemed; it expires.
 */
export function accountClient(issuer: string) {
  return {
    client_id: CLIENT_ID,
    client_name: 'Your account',
    token_endpoint_auth_method: 'none' as const,
    redirect_uris: [`${issuer}/account/callback`],
    grant_types: ['authorization_code'],
    response_types: ['code' as const],
    first_party: true,
  };
}

/** Only our own account pages are somewhere to come back to: a path under /account, never another origin. */
export function accountReturnPath(value: unknown): string {
  if (typeof value !== 'string' || value.length > 500) return '/account';
  if (!/^\/account(?:[/?#]|$)/.test(value) || /[\\\s]|\/\/|\/\.\.?(?:[/?#]|$)/.test(value) || value.startsWith('/account/callback')) {
    return '/account';
  }
  if (value.startsWith('/account/api') || value.startsWith('/account/sign-in')) return '/account';
  return value;
}

interface Flow {
  state: string;
  returnTo: string;
}

export interface AccountSignIn {
  /** GET /account/sign-in?return=… and the callback the authorization returns to. */
  router: Router;
  /** For the account pages' router: a signed-out GET of a page starts a sign-in that returns to it. */
  signInWhenSignedOut: Middleware;
}

export function accountSignIn(deps: { issuer: string }): AccountSignIn {
  const redirectUri = `${deps.issuer}/account/callback`;
  const cookieOptions = (ctx: Context, maxAge: number) =>
    ({ signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/account', maxAge }) as const;

  function start(ctx: Context, returnTo: string) {
    const flow: Flow = { state: randomBytes(16).toString('base64url'), returnTo: accountReturnPath(returnTo) };
    // PKCE is required of every public client; the code is never redeemed, so its verifier is not kept.
    const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
    ctx.cookies.set(FLOW_COOKIE, encodeCookieJson(flow), cookieOptions(ctx, FLOW_MS));
    const url = new URL(`${deps.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: CLIENT_ID,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: redirectUri,
      state: flow.state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }).toString();
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(url.href);
  }

  const router = new Router({ prefix: '/account' });

  router.get('/sign-in', (ctx) => start(ctx, accountReturnPath(ctx.query.return)));

  router.get('/callback', (ctx) => {
    const flow = decodeCookieJson<Flow>(ctx.cookies.get(FLOW_COOKIE, { signed: true }));
    ctx.cookies.set(FLOW_COOKIE, null, { path: '/account' });
    if (!flow || typeof flow.state !== 'string' || ctx.query.state !== flow.state) throw new PageError(400, 'sessionExpired');
    ctx.status = 303;
    // Cancelled on the sign-in page: back to the start page rather than into another sign-in.
    ctx.redirect(ctx.query.error ? '/' : accountReturnPath(flow.returnTo));
  });

  const signInWhenSignedOut: Middleware = async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const signedOut = error instanceof PageError && error.status === 401 && error.page === 'notSignedIn';
      if (!signedOut || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) throw error;
      start(ctx, ctx.originalUrl);
    }
  };

  return { router, signInWhenSignedOut };
}
