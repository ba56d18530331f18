import Router from '@koa/router';
import type { Context } from 'koa';

import { LOCALE_COOKIE } from './i18n.ts';

const YEAR_MS = 365 * 24 * 60 * 60 * 1000;
const MAX_RETURN_LENGTH = 2048;

/**
 * Where the switcher sends the person back to: a path on this server with its query, else the
 * home page. `//host`, `/\host`, absolute URLs and control characters would leave the origin.
 */
export function sameOriginReturn(value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_RETURN_LENGTH) return '/';
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return '/';
  return value;
}

/** The page's address for the switcher's links: the page itself, or the home page after a form post. */
export const returnPathOf = (ctx: Context): string => (ctx.method === 'GET' || ctx.method === 'HEAD' ? sameOriginReturn(ctx.originalUrl) : '/');

/**
 * GET /language?locale=de&return=/path?query: remembers the language in the `locale` cookie
 * (which pickLocale honours after ui_locales and before Accept-Language) and goes back to the
 * page. A GET link, so it works without JavaScript; a language we do not speak changes nothing.
 */
export function languageChoiceRoutes(locales: string[]): Router {
  const router = new Router();
  router.get('/language', (ctx) => {
    const locale = ctx.query.locale;
    if (typeof locale === 'string' && locales.includes(locale)) {
      ctx.cookies.set(LOCALE_COOKIE, locale, { signed: false, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/', maxAge: YEAR_MS, overwrite: true });
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(sameOriginReturn(ctx.query.return));
  });
  return router;
}
