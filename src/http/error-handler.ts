import type { Context, Middleware } from 'koa';

import { isPostgresUnavailable, StoreUnavailableError } from '../db/index.ts';
import { message, type MessageParams, type Views } from '../views/index.ts';
import { ControlCharactersError } from './control-characters.ts';
import { PageError } from './errors.ts';

/** JSON APIs (their body parser marks them) always answer JSON; pages answer whoever asks for HTML with HTML. */
function wantsHtml(ctx: Context): boolean {
  return !ctx.state.jsonApi && ctx.accepts('html', 'json') === 'html';
}

/**
 * Known errors get their status and a readable page; Koa's own HTTP errors (413, 415...)
 * keep their status; anything else is a 500 that reveals nothing but the request id.
 * A path nobody answered gets a 404 page rather than Koa's empty body.
 */
export function errorHandler(views: Views): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body == null) {
        throw new PageError(404, 'notFound');
      }
    } catch (error) {
      const err = error as Error & { status?: number; expose?: boolean };
      let status = 500;
      let page = 'server';
      let detail: string | undefined;
      let params: MessageParams | undefined;

      if (err instanceof PageError) {
        ({ status, page, detail, params } = err);
        const retryAfter = (err as { retryAfterSeconds?: number }).retryAfterSeconds;
        if (retryAfter) ctx.set('Retry-After', String(retryAfter));
      } else if (err instanceof StoreUnavailableError || isPostgresUnavailable(err)) {
        status = 503;
        page = 'unavailable';
        ctx.set('Retry-After', '30');
      } else if (err.expose && err.status && err.status >= 400 && err.status < 500) {
        status = err.status;
        page = status === 413 ? 'tooLarge' : 'badRequest';
        detail = status === 413 ? undefined : err.message;
      }

      if (status === 503) ctx.state.log.error({ reason: err.message, cause: (err.cause as Error | undefined)?.message }, 'store unavailable');
      else if (status >= 500) ctx.state.log.error({ err }, 'request failed');
      else ctx.state.log.warn({ status, reason: err.message }, 'request refused');

      if (wantsHtml(ctx)) {
        views.render(ctx, 'error', { title: message(`errors.${page}.title`, params), message: detail ?? message(`errors.${page}.message`, params) }, status);
      } else {
        ctx.status = status;
        ctx.body = {
          error: status >= 500 ? 'server_error' : status === 404 ? 'not_found' : status === 429 ? 'too_many_requests' : 'invalid_request',
          error_description: detail ?? views.english(`errors.${page}.message`, params),
          ...(err instanceof ControlCharactersError ? { field: err.field } : {}),
        };
      }
    }
  };
}
