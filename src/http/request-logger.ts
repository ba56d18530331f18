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

/** What else is told of each answered request (the metrics), with the same route and clock as the log line. */
export type RequestRecorder = (route: string, method: string, status: number, seconds: number) => void;

/**
 * `ctx.state` of a request: its id, and a child logger bound to it, made only when something
 * logs (most requests log only the closing line, which needs none).
 */
class RequestState {
  readonly #parentLog: Logger;
  #log: Logger | undefined;
  constructor(
    readonly requestId: string,
    parentLog: Logger,
  ) {
    this.#parentLog = parentLog;
  }

  get log(): Logger {
    return (this.#log ??= this.#parentLog.child({ requestId: this.requestId }));
  }
}

/**
 * Gives each request an id (the incoming X-Request-Id when sane, else a new one; echoed in
 * X-Request-Id and shown on error pages) and a child logger, then logs one line when it ends:
 * client address (by TRUST_PROXY), method, route, path, status and duration, and hands the
 * same to `record`. The query string is left out: it can carry authorization codes and other
 * one-time values.
 */
export function requestLogger(log: Logger, record: RequestRecorder): Middleware {
  // The closing line has these fields only, and none of them is a path the logger redacts: its
  // redaction would find nothing, at a cost greater than the rest of the line.
  const lineLog = log.child({}, { redact: [] });
  return async (ctx, next) => {
    const requestId = requestIdOf(ctx.get('X-Request-Id') || undefined);
    const started = performance.now();
    ctx.state = new RequestState(requestId, log);
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      const ms = performance.now() - started;
      const route = matchedRoute(ctx);
      const { method, status } = ctx;
      record(route, method, status, ms / 1000);
      lineLog.info({ requestId, ip: ctx.ip, method, route, path: ctx.path, status, durationMs: Math.round(ms * 10) / 10 }, 'request');
    }
  };
}
