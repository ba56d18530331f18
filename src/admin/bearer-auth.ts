import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JWK, type JWTPayload } from 'jose';
import type { Context, Middleware } from 'koa';

import type { AccountAdministration, AccountService } from '../accounts/index.ts';
import { allowedScopes, type ResourceServer } from '../clients/index.ts';
import { authenticateChallenge, checkSenderConstraint, presentedToken, type PresentedToken, type ReplayStore } from '../oidc/index.ts';
import { RANK } from './permissions.ts';

export interface AdminCaller {
  accountId: string;
  rank: number;
  /** The highest built-in role, for rate limits. */
  role: string;
}

function refuse(ctx: Context, scheme: PresentedToken['scheme'] | undefined, status: 401 | 403, error?: { code: string; description: string; scope?: string }) {
  ctx.status = status;
  const params = error ? { error: error.code, error_description: error.description, ...(error.scope ? { scope: error.scope } : {}) } : {};
  ctx.set('WWW-Authenticate', authenticateChallenge(scheme, 'admin', params));
  ctx.body = error ? { error: error.code, error_description: error.description } : { error: 'invalid_request', error_description: 'Bearer token required' };
}

/**
 * The admin API is a resource server of this IdP: a JWT access token (RFC 9068) for the admin API
 * resource with the `admin` scope, verified against our own signing keys, issued to a client that
 * still exists and may use the admin API, sender-constrained (DPoP) when it is bound. Roles are read
 * from the database on each request, so a removed role takes effect at once.
 */
export function adminBearerAuth(deps: {
  issuer: string;
  server: ResourceServer;
  /** Public keys only, as they are now (JWKS_FILE may change while the server runs). */
  signingKeys: () => JWK[];
  /** node-oidc-provider's Client model: file, SQL and built-in clients alike. */
  clients: { find(id: string): Promise<object | undefined> };
  replay: ReplayStore;
  accounts: AccountService;
  administration: AccountAdministration;
}): Middleware {
  let verifying = { from: deps.signingKeys(), keys: createLocalJWKSet({ keys: deps.signingKeys() }) };
  const currentKeys = () => {
    const from = deps.signingKeys();
    if (from !== verifying.from) verifying = { from, keys: createLocalJWKSet({ keys: from }) };
    return verifying.keys;
  };
  return async (ctx, next) => {
    const presented = presentedToken(ctx.get('authorization'));
    if (!presented) return refuse(ctx, undefined, 401);
    const { scheme } = presented;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(presented.token, currentKeys(), {
        issuer: deps.issuer,
        audience: deps.server.indicator,
        typ: 'at+jwt',
        requiredClaims: ['exp', 'client_id'],
      }));
    } catch (error) {
      const description = error instanceof joseErrors.JWTExpired ? 'the token has expired' : 'the token is not valid here';
      return refuse(ctx, scheme, 401, { code: 'invalid_token', description });
    }
    // A deleted client, or one no longer allowed the admin API, takes its tokens with it.
    const client = await deps.clients.find(String(payload.client_id));
    if (!allowedScopes(client, deps.server).includes('admin')) {
      return refuse(ctx, scheme, 401, { code: 'invalid_token', description: 'the token was issued to a client that may not use the admin API' });
    }
    const refusal = await checkSenderConstraint({
      presented,
      jkt: (payload.cnf as { jkt?: string } | undefined)?.jkt,
      proof: ctx.get('dpop') || undefined,
      method: ctx.method,
      url: new URL(ctx.path, deps.issuer).href,
      namespace: deps.server.indicator,
      replay: deps.replay,
    });
    if (refusal) return refuse(ctx, scheme, 401, { code: refusal.error, description: refusal.description });
    if (!String(payload.scope ?? '').split(' ').includes('admin')) {
      return refuse(ctx, scheme, 403, { code: 'insufficient_scope', description: 'the admin scope is required', scope: 'admin' });
    }
    if (!payload.sub) return refuse(ctx, scheme, 401, { code: 'invalid_token', description: 'the token names no person' });
    const subject = payload.sub;
    const account = await deps.accounts.findActiveAccount(subject);
    if (!account) return refuse(ctx, scheme, 401, { code: 'invalid_token', description: 'the account is disabled or gone' });
    const rank = await deps.administration.rankOf(account.id);
    const role = (Object.entries(RANK).find(([, value]) => value === rank)?.[0] ?? 'guest') as string;
    ctx.state.admin = { accountId: account.id, rank, role } satisfies AdminCaller;
    await next();
  };
}
