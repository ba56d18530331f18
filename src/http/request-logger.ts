import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';

import type { Logger } from '../logger.ts';
import { matchedRoute } from './matched-route.ts';

/**
 * Gives each request an id (echoed in X-Request-Id and shown on error pages) and a
 * child logger, then logs one line when it ends. The query string is left out:
 * it can carry authorization codes and other one-time values.
 */
export function requestLogger(log: Logger): Middleware {
  return async (ctx, next) => {
    const requestId = randomUUID();
    const started = performance.now();
    ctx.state.requestId = requestId;
    ctx.state.log = log.child({ requestId });
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      ctx.state.log.info(
        {
          method: ctx.method,
          route: matchedRoute(ctx),
          path: ctx.path,
          status: ctx.status,
          durationMs: Math.round((performance.now() - started) * 10) / 10,
        },
        'request',
      );
    }
  };
}
