import Router from '@koa/router';

import type { Views } from '../views/index.ts';

/** `/`: where a person who types the server's address lands, with the way to their account, the console and, for developers, discovery. */
export function homeRoutes(deps: { issuer: string; views: Views }): Router {
  const discovery = `${deps.issuer}/.well-known/openid-configuration`;
  const router = new Router();
  router.get('/', (ctx) => deps.views.render(ctx, 'home', { discovery }));
  return router;
}
