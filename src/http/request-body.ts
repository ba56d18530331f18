import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware } from 'koa';

import { ControlCharactersError, fieldWithControlCharacters } from './control-characters.ts';
import { PageError } from './errors.ts';

/** A body the parser refused: too large (413), or not what its content type says (400). */
export function refusedBody(error: unknown, ctx: Context): never {
  const status = (error as { status?: number }).status;
  if (status === 413) throw new PageError(413, 'tooLarge');
  if (status === 400) {
    ctx.state.log?.warn({ reason: (error as Error).message }, 'unreadable request body');
    throw new PageError(400, ctx.state.jsonApi ? 'badJson' : 'badRequest');
  }
  throw error;
}

/** After parsing: a control character anywhere in the query or the body is the sender's error, named by its field. */
const refuseControlCharacters: Middleware = async (ctx, next) => {
  const field = fieldWithControlCharacters(ctx.query) ?? fieldWithControlCharacters(ctx.request.body);
  if (field) throw new ControlCharactersError(field);
  await next();
};

export function checkedBody(parser: Middleware): Middleware {
  return (ctx, next) => parser(ctx, () => refuseControlCharacters(ctx, next));
}

/**
 * Parses JSON bodies of a JSON API, whose every error (also a refused body) is then answered
 * as JSON `{ error, error_description }`. A prototype key (`__proto__`, `constructor.prototype`)
 * is refused as bad JSON by the parser.
 */
export function jsonBody(limit: string): Middleware {
  const parser = checkedBody(bodyParser({ enableTypes: ['json'], jsonLimit: limit, encoding: 'utf-8', onError: refusedBody }) as Middleware);
  return (ctx, next) => {
    ctx.state.jsonApi = true;
    return parser(ctx, next);
  };
}
