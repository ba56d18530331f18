import type { Middleware } from 'koa';

/**
 * How long relying parties and shared caches may keep discovery and the JWKS. Safe to share:
 * both are made from ISSUER alone (see pinRequestsToIssuer), never from a request header.
 */
export const DISCOVERY_MAX_AGE_SECONDS = 300;

/** Cache-Control for node-oidc-provider's public metadata; errors and everything else are left as they are. */
export function publicMetadataCaching(jwksMaxAge: number): Middleware {
  const maxAgeByPath = new Map([
    ['/.well-known/openid-configuration', DISCOVERY_MAX_AGE_SECONDS],
    ['/jwks', jwksMaxAge],
  ]);
  return async (ctx, next) => {
    await next();
    const maxAge = ctx.method === 'GET' || ctx.method === 'HEAD' ? maxAgeByPath.get(ctx.path) : undefined;
    if (maxAge !== undefined && ctx.status === 200) ctx.set('Cache-Control', `public, max-age=${maxAge}`);
  };
}
