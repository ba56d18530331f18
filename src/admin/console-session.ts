import { createHmac } from 'node:crypto';
import type { Context } from 'koa';
import * as oidc from 'openid-client';

import { decodeCookieJson, encodeCookieJson } from '../http/json-cookie.ts';

const SESSION_COOKIE = 'admin_console';
const FLOW_COOKIE = 'admin_console_flow';
const SESSION_MS = 60 * 60 * 1000;
const cookieOptions = (ctx: Context, maxAge: number) =>
  ({ signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/admin', maxAge }) as const;


/** The console's secret as a client of this IdP: derived from the cookie keys, the same on every node. */
export function consoleClientSecret(cookieKeys: string[]): string {
  return createHmac('sha256', cookieKeys[0]!).update('admin-console client secret').digest('base64url');
}

export function consoleClient(issuer: string, cookieKeys: string[]) {
  return {
    client_id: 'admin-console',
    client_secret: consoleClientSecret(cookieKeys),
    client_name: 'Admin console',
    redirect_uris: [`${issuer}/admin/callback`],
    post_logout_redirect_uris: [`${issuer}/admin`],
    grant_types: ['authorization_code'],
    response_types: ['code' as const],
    first_party: true,
  };
}

/**
 * The admin console is a relying party of this very IdP (openid-client, code flow with PKCE);
 * its own session is a signed cookie naming the account, re-checked against roles on every page.
 */
export function createConsoleSession(options: { issuer: string; cookieKeys: string[] }) {
  let configuration: Promise<oidc.Configuration> | undefined;
  const discover = () =>
    (configuration ??= oidc
      .discovery(new URL(options.issuer), 'admin-console', consoleClientSecret(options.cookieKeys), undefined, {
        execute: options.issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
      })
      .catch((error: unknown) => {
        configuration = undefined;
        throw error;
      }));
  const redirectUri = `${options.issuer}/admin/callback`;

  return {
    accountId(ctx: Context): string | undefined {
      const session = decodeCookieJson<{ sub: string; exp: number }>(ctx.cookies.get(SESSION_COOKIE, { signed: true }));
      return session && session.exp > Date.now() ? session.sub : undefined;
    },

    async startSignIn(ctx: Context): Promise<void> {
      const config = await discover();
      const checks = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier() };
      ctx.cookies.set(FLOW_COOKIE, encodeCookieJson(checks), cookieOptions(ctx, 10 * 60 * 1000));
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid',
        state: checks.state,
        nonce: checks.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(checks.verifier),
        code_challenge_method: 'S256',
      });
      ctx.status = 303;
      ctx.redirect(url.href);
    },

    /** Completes the sign-in; false when the answer does not match a sign-in this browser started. */
    async finishSignIn(ctx: Context): Promise<boolean> {
      const checks = decodeCookieJson<{ state: string; nonce: string; verifier: string }>(ctx.cookies.get(FLOW_COOKIE, { signed: true }));
      ctx.cookies.set(FLOW_COOKIE, null, { path: '/admin' });
      if (!checks) return false;
      const callback = new URL(redirectUri);
      callback.search = ctx.search;
      try {
        const tokens = await oidc.authorizationCodeGrant(await discover(), callback, {
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          pkceCodeVerifier: checks.verifier,
        });
        ctx.cookies.set(SESSION_COOKIE, encodeCookieJson({ sub: tokens.claims()!.sub, exp: Date.now() + SESSION_MS }), cookieOptions(ctx, SESSION_MS));
        return true;
      } catch (error) {
        ctx.state.log.warn({ reason: (error as Error).message }, 'admin console sign-in refused');
        return false;
      }
    },

    signOut(ctx: Context): void {
      ctx.cookies.set(SESSION_COOKIE, null, { path: '/admin' });
    },
  };
}

export type ConsoleSession = ReturnType<typeof createConsoleSession>;
