import { createHmac } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Context } from 'koa';
import type * as OpenId from 'openid-client';

import type { AccountService } from '../accounts/index.ts';
import type { DB } from '../db/index.ts';
import { openidClient } from '../upstream/index.ts';
import { decodeCookieJson, encodeCookieJson } from '../web/index.ts';
import { deleteConsoleSession, insertConsoleSession, touchConsoleSession } from './console-session.repository.ts';

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
 * The admin console is a relying party of this very IdP (openid-client, code flow with PKCE).
 * Its own session is a row in the database; the cookie carries only the row's random id. Every
 * request re-reads the row and the account (active, not deleted); the routes re-read the roles.
 */
export function createConsoleSession(options: { issuer: string; cookieKeys: string[]; db: Kysely<DB>; accounts: AccountService }) {
  const { db, accounts } = options;
  let configuration: Promise<OpenId.Configuration> | undefined;
  const discover = () =>
    (configuration ??= openidClient()
      .then((oidc) =>
        oidc.discovery(new URL(options.issuer), 'admin-console', consoleClientSecret(options.cookieKeys), undefined, {
          execute: options.issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
        }),
      )
      .catch((error: unknown) => {
        configuration = undefined;
        throw error;
      }));
  const redirectUri = `${options.issuer}/admin/callback`;

  return {
    /** The signed-in account, or undefined (and the session ended) when the session or the account is gone. */
    async accountId(ctx: Context): Promise<string | undefined> {
      const id = ctx.cookies.get(SESSION_COOKIE, { signed: true });
      if (!id) return undefined;
      const accountId = await touchConsoleSession(db, id);
      if (accountId && (await accounts.findActiveAccount(accountId))) return accountId;
      await deleteConsoleSession(db, id);
      ctx.cookies.set(SESSION_COOKIE, null, { path: '/admin' });
      return undefined;
    },

    async startSignIn(ctx: Context): Promise<void> {
      const [config, oidc] = await Promise.all([discover(), openidClient()]);
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
        const [config, oidc] = await Promise.all([discover(), openidClient()]);
        const tokens = await oidc.authorizationCodeGrant(config, callback, {
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          pkceCodeVerifier: checks.verifier,
        });
        ctx.cookies.set(SESSION_COOKIE, await insertConsoleSession(db, tokens.claims()!.sub, SESSION_MS), cookieOptions(ctx, SESSION_MS));
        return true;
      } catch (error) {
        ctx.state.log.warn({ reason: (error as Error).message }, 'admin console sign-in refused');
        return false;
      }
    },

    /** Ends the session itself, not only this browser's cookie: a copy of the cookie is dead too. */
    async signOut(ctx: Context): Promise<void> {
      const id = ctx.cookies.get(SESSION_COOKIE, { signed: true });
      if (id) await deleteConsoleSession(db, id);
      ctx.cookies.set(SESSION_COOKIE, null, { path: '/admin' });
    },
  };
}

export type ConsoleSession = ReturnType<typeof createConsoleSession>;
