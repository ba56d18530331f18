import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';


import type { Account } from '../accounts/index.ts';

export interface AccountApiCaller {
  account: Account;
  clientId: string;
  /** The session the token was issued in (its uid), when there was one. */
  sessionUid: string | undefined;
}

function refuse(ctx: Context, status: 401 | 403, error: string, description: string) {
  ctx.status = status;
  ctx.set('WWW-Authenticate', `Bearer realm="account", error="${error}", error_description="${description}"`);
  ctx.body = { error, error_description: description };
}

/**
 * The account API takes the access tokens apps already hold (opaque, from our token endpoint),
 * when they carry the `account` scope and name a person. Sender-constrained (DPoP) tokens are
 * refused here: this API does not check DPoP proofs.
 */
export function accountApiAuth(provider: Provider, accounts: { findActiveAccount(id: string): Promise<Account | undefined> }): Middleware {
  return async (ctx, next) => {
    const match = /^Bearer\s+([\w.~+/-]+=*)$/i.exec(ctx.get('authorization'));
    if (!match) return refuse(ctx, 401, 'invalid_request', 'Bearer token required');
    const token = await provider.AccessToken.find(match[1]!);
    if (!token || token.isExpired || !token.accountId || !token.clientId) return refuse(ctx, 401, 'invalid_token', 'the token is unknown, expired or names no person');
    if (token.jkt || token['x5t#S256']) return refuse(ctx, 401, 'invalid_token', 'sender-constrained tokens are not accepted here');
    if (!String(token.scope ?? '').split(' ').includes('account')) return refuse(ctx, 403, 'insufficient_scope', 'the account scope is required');
    const account = await accounts.findActiveAccount(token.accountId);
    if (!account) return refuse(ctx, 401, 'invalid_token', 'the account is disabled or deleted');
    ctx.state.caller = { account, clientId: token.clientId, sessionUid: token.sessionUid } satisfies AccountApiCaller;
    await next();
  };
}
