import type { Context } from 'koa';

/** The route pattern that answered (ours and node-oidc-provider's routers both record it), never the raw path. */
export function matchedRoute(ctx: Context): string {
  return String((ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched');
}
