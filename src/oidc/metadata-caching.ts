import type { Context, Middleware, Next } from 'koa';

/**
 * How long relying parties and shared caches may keep discovery and the JWKS. Safe to share:
 * both are made from ISSUER alone (see pinRequestsToIssuer), never from a request header.
 */
export const DISCOVERY_MAX_AGE_SECONDS = 300;

/** Cache-Control for node-oidc-provider's public metadata; errors and everything else are left as they are. */
export function publicMetadataCaching(jwksMaxAge: number): Middleware {
  const cacheControlByPath = new Map([
    ['/.well-known/openid-configuration', `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}`],
    ['/jwks', `public, max-age=${jwksMaxAge}`],
  ]);
  const cache = async (ctx: Context, next: Next, cacheControl: string) => {
    await next();
    if (ctx.status === 200) ctx.set('Cache-Control', cacheControl);
  };
  return (ctx, next) => {
    const cacheControl = ctx.method === 'GET' || ctx.method === 'HEAD' ? cacheControlByPath.get(ctx.path) : undefined;
    return cacheControl === undefined ? next() : cache(ctx, next, cacheControl);
  };
}
