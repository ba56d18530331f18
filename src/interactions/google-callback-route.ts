import Router from '@koa/router';

import { PageError } from '../http/index.ts';
import { peekFlow } from '../web/index.ts';

/**
 * Google returns to one fixed redirect URI. The interaction's cookie only reaches
 * /interaction/<uid>, so this sends the browser on there (or to the account page) with Google's answer.
 */
export function googleCallbackRoute(): Router {
  const router = new Router();
  router.get('/interaction/callback/google', (ctx) => {
    const flow = peekFlow(ctx);
    if (!flow) {
      throw new PageError(400, 'googleExpired');
    }
    const target = flow.mode === 'login' ? `/interaction/${flow.uid}/google/callback` : flow.mode === 'reauth' ? '/account/reauth/google/callback' : '/account/google/callback';
    ctx.status = 303;
    ctx.redirect(`${target}${ctx.search}`);
  });
  return router;
}
