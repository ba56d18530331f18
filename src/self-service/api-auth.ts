import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';

import type { Account } from '../accounts/index.ts';
import { authenticateChallenge, checkSenderConstraint, presentedToken, type PresentedToken, type ReplayStore } from '../oidc/index.ts';

export interface AccountApiCaller {
  account: Account;
  clientId: string;
  /** The session the token was issued in (its uid), when there was one. */
  sessionUid: string | undefined;
}

function refuse(ctx: Context, scheme: PresentedToken['scheme'] | undefined, status: 401 | 403, error: string, description: string, scope?: string) {
  ctx.status = status;
  ctx.set('WWW-Authenticate', authenticateChallenge(scheme, 'account', { error, error_description: description, ...(scope ? { scope } : {}) }));
  ctx.body = { error, error_description: description };
}

/** A client may use the account API while it exists and its registration does not rule out the `account` scope. */
function mayUseAccountApi(client: { scope?: string | undefined } | undefined): boolean {
  if (!client) return false;
  return client.scope === undefined || client.scope.split(' ').includes('account');
}

/**
 * The account API takes the access tokens apps already hold (opaque, from our token endpoint),
 * when they carry the `account` scope, name a person and come from a client that still exists.
 * DPoP-bound tokens need the DPoP scheme and a valid proof (RFC 9449).
 */
export function accountApiAuth(deps: {
  provider: Provider;
  accounts: { findActiveAccount(id: string): Promise<Account | undefined> };
  issuer: string;
  replay: ReplayStore;
}): Middleware {
  const { provider, accounts } = deps;
  return async (ctx, next) => {
    const presented = presentedToken(ctx.get('authorization'));
    if (!presented) return refuse(ctx, undefined, 401, 'invalid_request', 'Bearer token required');
    const { scheme } = presented;
    const token = await provider.AccessToken.find(presented.token);
    if (!token || token.isExpired || !token.accountId || !token.clientId) {
      return refuse(ctx, scheme, 401, 'invalid_token', 'the token is unknown, expired or names no person');
    }
    if (token['x5t#S256']) return refuse(ctx, scheme, 401, 'invalid_token', 'certificate-bound tokens are not accepted here');
    if (!mayUseAccountApi(await provider.Client.find(token.clientId))) {
      return refuse(ctx, scheme, 401, 'invalid_token', 'the token was issued to a client that may not use the account API');
    }
    const refusal = await checkSenderConstraint({
      presented,
      jkt: token.jkt,
      proof: ctx.get('dpop') || undefined,
      method: ctx.method,
      url: new URL(ctx.path, deps.issuer).href,
      namespace: `${deps.issuer}/account/api`,
      replay: deps.replay,
    });
    if (refusal) return refuse(ctx, scheme, 401, refusal.error, refusal.description);
    if (!String(token.scope ?? '').split(' ').includes('account')) {
      return refuse(ctx, scheme, 403, 'insufficient_scope', 'the account scope is required', 'account');
    }
    const account = await accounts.findActiveAccount(token.accountId);
    if (!account) return refuse(ctx, scheme, 401, 'invalid_token', 'the account is disabled or deleted');
    ctx.state.caller = { account, clientId: token.clientId, sessionUid: token.sessionUid } satisfies AccountApiCaller;
    await next();
  };
}
