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
    // Most requests log only the closing line: make the child logger when something else logs.
    let child: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', { get: () => (child ??= log.child({ requestId })), enumerable: true });
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      log.info(
        {
          requestId,
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
