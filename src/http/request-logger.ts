import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';

import type { Logger } from '../logger.ts';
import { matchedRoute } from './matched-route.ts';

/** An id a proxy in front may hand on, so that its log and ours name the same request. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The proxy's X-Request-Id when it is a sane token; otherwise (absent, too long, odd characters) a new one. */
function requestIdOf(incoming: string | undefined): string {
  return incoming !== undefined && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * Gives each request an id (the incoming X-Request-Id when sane, else a new one; echoed in
 * X-Request-Id and shown on error pages) and a child logger, then logs one line when it ends:
 * client address (by TRUST_PROXY), method, route, path, status and duration. The query string
 * is left out: it can carry authorization codes and other one-time values.
 */
export function requestLogger(log: Logger): Middleware {
  return async (ctx, next) => {
    const requestId = requestIdOf(ctx.get('X-Request-Id') || undefined);
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
          ip: ctx.ip,
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
