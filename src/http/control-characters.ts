import type { Middleware } from 'koa';

import { PageError } from './errors.ts';

/**
 * C0 control characters but tab, line feed and carriage return (which multi-line fields such as
 * a textarea of redirect URIs carry), and DEL. Nobody types them; NUL cannot even be stored in
 * a PostgreSQL text column. Single-line fields refuse the other three in their own schemas.
 */
const CONTROL_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
const MAX_DEPTH = 32;

export class ControlCharactersError extends PageError {
  constructor(readonly field: string) {
    super(400, 'controlCharacters', undefined, { field: field.slice(0, 64) });
  }
}

/** The path of the first value (or key) in a parsed body or query that holds a control character. */
export function fieldWithControlCharacters(value: unknown, path = '', depth = 0): string | undefined {
  if (typeof value === 'string') return CONTROL_CHARACTER.test(value) ? path || 'body' : undefined;
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const field = path ? `${path}.${key}` : key;
    if (CONTROL_CHARACTER.test(key)) return field;
    const found = fieldWithControlCharacters(inner, field, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** The same rule for the path: a route parameter with a NUL would otherwise reach the database. */
export function refuseControlCharactersInPath(): Middleware {
  return (ctx, next) => {
    let path = ctx.path;
    try {
      if (path.includes('%')) path = decodeURIComponent(path);
    } catch {
      return next(); // malformed percent-encoding: the routers answer it as they always have
    }
    if (CONTROL_CHARACTER.test(path)) throw new ControlCharactersError('path');
    return next();
  };
}
