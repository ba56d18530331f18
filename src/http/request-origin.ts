import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context, Middleware } from 'koa';

const current = new AsyncLocalStorage<Context>();

/**
 * Keeps the request a change is made in, so that the security notice it causes can say from
 * where (IP, device) without every service signature carrying the User-Agent down to it.
 */
export function requestOrigin(): Middleware {
  return (ctx, next) => current.run(ctx, next);
}

/** The request being handled, or undefined outside one (the CLI, a timer). */
export const currentRequest = (): Context | undefined => current.getStore();
