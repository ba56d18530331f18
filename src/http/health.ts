import Router from '@koa/router';

/** Liveness only: answers while the process can serve HTTP. */
export function healthRoutes(): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  return router;
}
