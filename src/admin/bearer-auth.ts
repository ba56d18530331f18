import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JWK } from 'jose';
import type { Middleware } from 'koa';

import type { AccountAdministration, AccountService } from '../accounts/index.ts';
import { RANK } from './permissions.ts';

export interface AdminCaller {
  accountId: string;
  rank: number;
  /** The highest built-in role, for rate limits. */
  role: string;
}

function unauthorized(ctx: Parameters<Middleware>[0], error?: { code: string; description: string }) {
  ctx.status = 401;
  ctx.set(
    'WWW-Authenticate',
    error ? `Bearer realm="admin", error="${error.code}", error_description="${error.description}"` : 'Bearer realm="admin"',
  );
  ctx.body = error ? { error: error.code, error_description: error.description } : { error: 'invalid_request', error_description: 'Bearer token required' };
}

/**
 * The admin API is a resource server of this IdP: a JWT access token (RFC 9068) for the admin API
 * resource with the `admin` scope, verified against our own signing keys. Roles are read from the
 * database on each request, so a removed role takes effect at once.
 */
export function adminBearerAuth(deps: {
  issuer: string;
  audience: string;
  /** Public keys only. */
  signingKeys: JWK[];
  accounts: AccountService;
  administration: AccountAdministration;
}): Middleware {
  const keys = createLocalJWKSet({ keys: deps.signingKeys });
  return async (ctx, next) => {
    const match = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'));
    if (!match) return unauthorized(ctx);
    let subject: string;
    try {
      const { payload } = await jwtVerify(match[1]!, keys, { issuer: deps.issuer, audience: deps.audience, typ: 'at+jwt' });
      if (!String(payload.scope ?? '').split(' ').includes('admin')) {
        return unauthorized(ctx, { code: 'insufficient_scope', description: 'the admin scope is required' });
      }
      if (!payload.sub) return unauthorized(ctx, { code: 'invalid_token', description: 'the token names no person' });
      subject = payload.sub;
    } catch (error) {
      const description = error instanceof joseErrors.JWTExpired ? 'the token has expired' : 'the token is not valid here';
      return unauthorized(ctx, { code: 'invalid_token', description });
    }
    const account = await deps.accounts.findActiveAccount(subject);
    if (!account) return unauthorized(ctx, { code: 'invalid_token', description: 'the account is disabled or gone' });
    const rank = await deps.administration.rankOf(account.id);
    const role = (Object.entries(RANK).find(([, value]) => value === rank)?.[0] ?? 'guest') as string;
    ctx.state.admin = { accountId: account.id, rank, role } satisfies AdminCaller;
    await next();
  };
}
