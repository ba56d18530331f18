import { decodeJwt } from 'jose';
import type { Context, Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

import type { Views } from '../views/index.ts';

/** The client that pushed the request (node-oidc-provider checked it against the pushing client's authentication). */
function pushedBy(request: unknown): string | undefined {
  try {
    const clientId = decodeJwt(String(request)).client_id;
    return typeof clientId === 'string' ? clientId : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A pushed request URI belongs to the client that pushed it. Presented with another client_id,
 * node-oidc-provider refuses it but answers at that other client's redirect URI, carrying the
 * pushing client's `state`; we answer an error page instead and send the browser nowhere.
 * Runs after node-oidc-provider (provider.use), so GET and POST and every response mode are covered.
 */
export function pushedRequestOfItsClient(views: Views): Middleware {
  return async (ctx, next) => {
    await next();
    const { oidc } = ctx as unknown as Partial<KoaContextWithOIDC>;
    const pushed = oidc?.entities?.PushedAuthorizationRequest as { request?: unknown } | undefined;
    if (oidc?.route !== 'authorization' || !pushed) return;
    const owner = pushedBy(pushed.request);
    const presenter = oidc.client?.clientId ?? (typeof oidc.params?.client_id === 'string' ? oidc.params.client_id : undefined);
    if (owner === presenter) return;

    (ctx.state.log as { warn(o: object, m: string): void } | undefined)?.warn({ presenter, owner }, 'pushed request_uri presented by another client');
    ctx.remove('Location');
    views.render(ctx as Context, 'error', {
      title: 'errors.oauth.title',
      message: 'errors.oauth.message',
      oauthError: 'invalid_request_uri',
      oauthErrorDescription: 'request_uri was pushed by another client',
    }, 400);
  };
}
