import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';

import type { Reauthentication } from '../accounts/index.ts';
import { sessionByUid } from '../oidc/index.ts';
import type { AccountApiCaller } from './api-auth.ts';
import type { AccountPage } from './account-page.ts';

/** Where a re-authentication may send the person back to: a page or section of their account, nothing else. */
const RETURN_TO = /^\/account(?:\/(?!reauth)[A-Za-z0-9/-]*)?(?:#[A-Za-z0-9-]+)?$/;

export function returnTarget(value: unknown): string {
  return typeof value === 'string' && RETURN_TO.test(value) ? value : '/account';
}

/** The re-authentication page, to come back to `returnTo` afterwards. */
export const reauthenticationPath = (returnTo: string) => `/account/reauth?${new URLSearchParams({ return_to: returnTo })}`;

/**
 * Sudo mode on the account page: a sensitive route runs only when the session signed in or re-authenticated
 * within REAUTH_MAX_AGE (the rule is `Reauthentication.isRecent`). Otherwise a page is sent to re-authenticate
 * and then back: a GET to itself, a form to `returnTo` (its page and section, where the person submits again);
 * a script asking for JSON is told where to go.
 */
export function pageNeedsRecentAuthentication(deps: { page: AccountPage; reauthentication: Reauthentication }) {
  return (returnTo: string): Middleware =>
    async (ctx, next) => {
      const { account, session } = await deps.page.signedIn(ctx);
      if (await deps.reauthentication.isRecent(account.id, session)) return next();
      const location = reauthenticationPath(ctx.method === 'GET' ? ctx.path : returnTo);
      if (ctx.accepts('html', 'json') === 'json') {
        ctx.status = 401;
        ctx.body = { error: 'reauthentication_required', location };
        return;
      }
      ctx.status = 303;
      ctx.redirect(location);
    };
}

/**
 * Sudo mode on /account/api (RFC 9470 step-up): a token whose session has not authenticated within
 * REAUTH_MAX_AGE is refused with `insufficient_user_authentication` and the `max_age` the app must send
 * when it runs the authorization again.
 */
export function apiNeedsRecentAuthentication(deps: { provider: Provider; reauthentication: Reauthentication }): Middleware {
  const { provider, reauthentication } = deps;
  return async (ctx: Context, next) => {
    const { account, sessionUid } = ctx.state.caller as AccountApiCaller;
    const session = sessionUid ? await sessionByUid(provider, sessionUid) : undefined;
    if (session?.accountId === account.id && (await reauthentication.isRecent(account.id, session))) return next();
    const maxAge = reauthentication.maxAgeSeconds;
    const description = `a sign-in within the last ${maxAge} seconds is required`;
    ctx.status = 401;
    ctx.set('WWW-Authenticate', `Bearer realm="account", error="insufficient_user_authentication", error_description="${description}", max_age=${maxAge}`);
    ctx.body = { error: 'insufficient_user_authentication', error_description: description, max_age: maxAge };
  };
}
