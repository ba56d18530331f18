import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Context } from 'koa';

/**
 * Text for a person, by its key in the message catalogue (views/locales/<locale>.json), with
 * values for its `{placeholders}`. Code passes messages; only views turn them into words.
 */
export type Message = string | { key: string; params?: MessageParams };
export type MessageParams = Record<string, string | number>;

export const message = (key: string, params?: MessageParams): Message => (params ? { key, params } : key);

export type Translate = (text: Message, params?: MessageParams) => string;

export const DEFAULT_LOCALE = 'en';

/** Nested JSON to one level: { login: { title } } becomes { 'login.title' }. */
function flatten(tree: Record<string, unknown>, prefix = '', into: Record<string, string> = {}): Record<string, string> {
  for (const [name, value] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (typeof value === 'string') into[key] = value;
    else if (value && typeof value === 'object') flatten(value as Record<string, unknown>, key, into);
    else throw new Error(`message catalogue: ${key} is neither text nor a group`);
  }
  return into;
}

export interface Catalogues {
  /** Supported locales, the default first. */
  locales: string[];
  messages: Map<string, Record<string, string>>;
  translator(locale: string): Translate;
}

/** Reads every <locale>.json of the folder; en.json must be there and is the fallback for missing keys. */
export function loadCatalogues(dir: string): Catalogues {
  const messages = new Map<string, Record<string, string>>();
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.json')).sort()) {
    messages.set(path.basename(file, '.json'), flatten(JSON.parse(readFileSync(path.join(dir, file), 'utf8'))));
  }
  const fallback = messages.get(DEFAULT_LOCALE);
  if (!fallback) throw new Error(`message catalogue: ${dir} has no ${DEFAULT_LOCALE}.json`);
  const locales = [DEFAULT_LOCALE, ...[...messages.keys()].filter((locale) => locale !== DEFAULT_LOCALE)];

  const translators = new Map<string, Translate>();
  function translator(locale: string): Translate {
    let translate = translators.get(locale);
    if (translate) return translate;
    const own = messages.get(locale) ?? fallback!;
    translate = (text, extra) => {
      const key = typeof text === 'string' ? text : text.key;
      const params = { ...(typeof text === 'string' ? {} : text.params), ...extra };
      const template = own[key] ?? fallback![key];
      // A missing key shows as itself: visible in review, and the catalogue test names it.
      if (template === undefined) return key;
      return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
    };
    translators.set(locale, translate);
    return translate;
  }
  return { locales, messages, translator };
}

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => escapes[c]!);

/**
 * A message as HTML whose values stand out: the words are escaped, and each value goes in
 * <strong>, escaped too ("to continue to <strong>App</strong>", in any word order).
 */
export function withStrongValues(translate: Translate) {
  return (text: Message, params: MessageParams): string => {
    const values = Object.values(params).map((value) => String(value));
    const marks = Object.fromEntries(Object.keys(params).map((name, i) => [name, `\u0000${i}\u0000`]));
    return escapeHtml(translate(text, marks)).replace(/\u0000(\d+)\u0000/g, (_whole, i: string) => `<strong>${escapeHtml(values[Number(i)]!)}</strong>`);
  };
}

/** The language a person chose with the pages' language switcher (src/views/language-choice.ts). */
export const LOCALE_COOKIE = 'locale';

/**
 * The language of a page: the one the person chose with the language switcher (the `locale`
 * cookie) — their own choice outranks an application's hint, as in Keycloak — else the first
 * of the authorization request's `ui_locales` we speak (a region falls back to its language,
 * de-AT to de), else the best of Accept-Language, else English.
 */
export function pickLocale(ctx: Context, locales: string[], uiLocales?: unknown): string {
  const chosen = ctx.cookies.get(LOCALE_COOKIE, { signed: false });
  if (chosen && locales.includes(chosen)) return chosen;
  const asked = typeof uiLocales === 'string' ? matchLocale(uiLocales.split(/\s+/), locales) : undefined;
  if (asked) return asked;
  const accepted = ctx.acceptsLanguages(locales);
  return typeof accepted === 'string' ? accepted : DEFAULT_LOCALE;
}

/** The first of these BCP 47 tags we speak, a region falling back to its language (de-AT to de); blanks are skipped. */
export function matchLocale(tags: Iterable<string | null | undefined>, locales: string[]): string | undefined {
  for (const tag of tags) {
    const lower = tag?.trim().toLowerCase();
    if (!lower) continue;
    const match = locales.find((locale) => locale === lower) ?? locales.find((locale) => locale === lower.split('-')[0]);
    if (match) return match;
  }
  return undefined;
}
