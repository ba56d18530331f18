import { statSync } from 'node:fs';
import path from 'node:path';
import { Eta } from 'eta';
import type { Context } from 'koa';

import { type Brand, defaultBrand, footerLinks } from './brand.ts';
import { formatDateTime } from './dates.ts';
import { returnPathOf } from './language-choice.ts';
import { DEFAULT_LOCALE, loadCatalogues, pickLocale, withStrongValues, type Catalogues, type Translate } from './i18n.ts';

export interface Views {
  /** Renders views/<name>.eta into the response, escaping every value unless the template says otherwise. */
  render(ctx: Context, name: string, data?: Record<string, unknown>, status?: number): void;
  renderToString(ctx: Context, name: string, data?: Record<string, unknown>): string;
  /** The words of the request's language, for text that leaves without a view. */
  translate(ctx: Context): Translate;
  /** The request's language (ui_locales, else Accept-Language, else English): what mail it causes falls back to. */
  locale(ctx: Context): string;
  /** English, for logs and JSON answers. */
  english: Translate;
  catalogues: Catalogues;
}

/**
 * Every page gets `t` (the message catalogue in the person's language), `locale`, `date`, `brand`,
 * and for the layout's footer `footerLinks` and `languages`.
 * The language comes from the authorization request's ui_locales when the route set
 * `ctx.state.uiLocales`, else from the language switcher's cookie, else from Accept-Language.
 */
export function createViews(options: { dir: string; reloadChanged: boolean; brand?: Brand; passwordMinLength?: number }): Views {
  const eta = new Eta({ views: options.dir, cache: true, autoEscape: true });
  if (options.reloadChanged) compileAgainWhenChanged(eta);
  const catalogues = loadCatalogues(path.join(options.dir, 'locales'));
  const brand = options.brand ?? defaultBrand;
  const links = footerLinks(brand);
  /** The language switcher's choices, each in its own language. */
  const languages = catalogues.locales.map((code) => ({ code, name: catalogues.translator(code)('brand.languageName') }));

  const localeOf = (ctx: Context) => {
    const oidcParams = (ctx as { oidc?: { params?: Record<string, unknown> } }).oidc?.params;
    return pickLocale(ctx, catalogues.locales, ctx.state.uiLocales ?? oidcParams?.ui_locales);
  };

  function renderToString(ctx: Context, name: string, data: Record<string, unknown> = {}) {
    const locale = localeOf(ctx);
    const t = catalogues.translator(locale);
    return eta.render(name, {
      csrfToken: ctx.state.csrfToken,
      requestId: ctx.state.requestId,
      t,
      /** For <%~ %>: the message as HTML with its values in <strong>. */
      strong: withStrongValues(t),
      locale,
      /** A moment in the page's language and the given zone (default UTC), the zone named. */
      date: (value: Date | string | number | null | undefined, timeZone?: string) => formatDateTime(locale, value, timeZone),
      brand,
      footerLinks: links,
      /** The language switcher: each language in its own name, linking back to this page in it. */
      languages: languages.map((language) => ({ ...language, current: language.code === locale, href: `/language?locale=${language.code}&return=${encodeURIComponent(returnPathOf(ctx))}` })),
      passwordMinLength: options.passwordMinLength ?? 8,
      ...data,
    });
  }

  return {
    renderToString,
    render(ctx, name, data = {}, status = 200) {
      ctx.status = status;
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      ctx.set('Content-Language', localeOf(ctx));
      ctx.vary('Accept-Language');
      ctx.vary('Cookie');
      ctx.body = renderToString(ctx, name, data);
    },
    translate: (ctx) => catalogues.translator(localeOf(ctx)),
    locale: localeOf,
    english: catalogues.translator(DEFAULT_LOCALE),
    catalogues,
  };
}

/**
 * Development: a view (or layout, or partial) edited on disk shows on the next request. Each template is compiled
 * once and again only when its file's modification time changes: reading and compiling every view on every render
 * cost the embedded default a tenth of its CPU per sign-in round trip.
 */
function compileAgainWhenChanged(eta: Eta) {
  const resolve = eta.resolvePath!.bind(eta);
  const compiledAt = new Map<string, number>();
  eta.resolvePath = (template, resolveOptions) => {
    const file = resolve(template, resolveOptions);
    const modified = statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (compiledAt.get(file) !== modified) {
      eta.templatesSync.remove(file);
      compiledAt.set(file, modified);
    }
    return file;
  };
}
