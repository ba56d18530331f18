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

/** Pages that answer a form post at an address that also opens them (the form's own page). */
const FORM_PAGES = /^\/account\/(forgot-password|reset-password|verify-email|confirm-email|reauth)$/;

/**
 * Where the switcher's links come back to: the page itself with its query. After a form post
 * (a page with errors), the page the form was on: the interaction's step, a self-service form,
 * else the start of that area (/account, /admin), so no link leads to a POST-only address.
 */
export function returnPathOf(ctx: Context): string {
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return sameOriginReturn(ctx.originalUrl);
  const interaction = /^\/interaction\/[\w-]+/.exec(ctx.path);
  if (interaction) return interaction[0];
  if (FORM_PAGES.test(ctx.path)) return ctx.path;
  const area = /^\/(account|admin)(\/|$)/.exec(ctx.path);
  return area ? `/${area[1]}` : '/';
}

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
