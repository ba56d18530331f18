import Router from '@koa/router';

import { PageError } from '../http/index.ts';
import type { ProviderRegistry } from '../upstream/index.ts';
import { peekFlow } from '../web/index.ts';

/**
 * Each provider returns to one fixed redirect URI, /interaction/callback/<id>. The interaction's cookie
 * only reaches /interaction/<uid>, so this sends the browser on there (or to the account page) with the
 * provider's answer.
 */
export function upstreamCallbackRoute(upstream: ProviderRegistry): Router {
  const router = new Router();
  router.get('/interaction/callback/:provider', (ctx) => {
    const flow = peekFlow(ctx);
    const id = String(ctx.params.provider);
    if (!flow || flow.provider !== id) {
      throw new PageError(400, 'upstreamExpired', undefined, { provider: upstream.nameOf(id).slice(0, 60) });
    }
    const target =
      flow.mode === 'login' ? `/interaction/${flow.uid}/federated/${id}/callback` : flow.mode === 'reauth' ? `/account/reauth/${id}/callback` : `/account/${id}/callback`;
    ctx.status = 303;
    ctx.redirect(`${target}${ctx.search}`);
  });
  return router;
}
