import * as cheerio from 'cheerio';
import { CookieJar } from 'tough-cookie';

export interface Page {
  url: string;
  status: number;
  headers: Headers;
  html: string;
  $: cheerio.CheerioAPI;
}

export type Navigation = { page: Page; leftTo?: undefined } | { page?: undefined; leftTo: URL };

/**
 * A small browser for driving our pages over real HTTP: it keeps cookies (paths and all),
 * follows redirects, and submits forms as they are in the HTML, hidden fields included.
 * Navigation stops when a redirect leaves for `stopAt` (the relying party's redirect URI).
 */
export class Browser {
  readonly jar = new CookieJar();
  /** The Accept-Language header sent with every request, as a person's browser settings would. */
  acceptLanguage: string | undefined;
  /** The User-Agent header sent with every request; unset, fetch's own. */
  userAgent: string | undefined;

  /**
   * `proxy`: requests for `origin` (an https URL) go to `upstream` over plain HTTP with the
   * X-Forwarded-* headers a TLS-terminating reverse proxy adds; cookies follow the https URL.
   */
  constructor(
    private readonly stopAt: string[] = [],
    private readonly proxy?: { origin: string; upstream: string; clientIp: string },
  ) {}

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = await this.jar.getCookieString(url);
    if (cookie) headers.set('cookie', cookie);
    headers.set('accept', headers.get('accept') ?? 'text/html');
    if (this.acceptLanguage && !headers.has('accept-language')) headers.set('accept-language', this.acceptLanguage);
    if (this.userAgent) headers.set('user-agent', this.userAgent);
    let target = url;
    if (this.proxy && url.startsWith(`${this.proxy.origin}/`)) {
      const { host, protocol } = new URL(this.proxy.origin);
      target = this.proxy.upstream + url.slice(this.proxy.origin.length);
      headers.set('x-forwarded-host', host);
      headers.set('x-forwarded-proto', protocol.slice(0, -1));
      headers.set('x-forwarded-for', this.proxy.clientIp);
    }
    const response = await fetch(target, { ...init, headers, redirect: 'manual' });
    for (const setCookie of response.headers.getSetCookie()) {
      await this.jar.setCookie(setCookie, url, { ignoreError: true });
    }
    return response;
  }

  async navigate(url: string, init: RequestInit = {}): Promise<Navigation> {
    let current = url;
    let response = await this.fetch(current, init);
    for (let hops = 0; response.status >= 300 && response.status < 400; hops += 1) {
      if (hops > 20) throw new Error('too many redirects');
      const next = new URL(response.headers.get('location')!, current);
      if (this.stopAt.some((prefix) => next.href.startsWith(prefix))) return { leftTo: next };
      current = next.href;
      response = await this.fetch(current);
    }
    const html = await response.text();
    return { page: { url: current, status: response.status, headers: response.headers, html, $: cheerio.load(html) } };
  }

  async open(url: string): Promise<Page> {
    const result = await this.navigate(url);
    if (!result.page) throw new Error(`expected a page at ${url}, was sent to ${result.leftTo}`);
    return result.page;
  }

  /** Submits the form matching `selector` with its own fields plus `fields`. */
  async submit(page: Page, selector: string, fields: Record<string, string> = {}, button?: string): Promise<Navigation> {
    const form = page.$(selector).first();
    if (form.length === 0) throw new Error(`no form ${selector} on ${page.url}`);
    const body = new URLSearchParams();
    form.find('input[name], select[name], textarea[name]').each((_i, element) => {
      const input = page.$(element);
      if (input.is('[type=checkbox]') && !input.is('[checked]')) return;
      const value = input.is('select') ? (input.find('option[selected]').attr('value') ?? input.find('option').first().attr('value')) : input.is('textarea') ? input.text() : input.attr('value');
      body.set(input.attr('name')!, value ?? '');
    });
    for (const [name, value] of Object.entries(fields)) body.set(name, value);
    if (button) {
      const [name, value] = button.split('=');
      body.set(name!, value ?? '');
    }
    const action = new URL(form.attr('action') ?? page.url, page.url);
    const method = (form.attr('method') ?? 'get').toUpperCase();
    if (method === 'GET') {
      action.search = body.toString();
      return this.navigate(action.href);
    }
    return this.navigate(action.href, {
      method,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    });
  }
}

/** A page's HTML without what differs per request or per address, to compare two answers. */
export function comparableHtml(page: Page, email: string): string {
  return page.html
    .replaceAll(email, 'EMAIL')
    .replace(/name="_csrf" value="[^"]*"/g, '')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'ID')
    .replace(/interaction([/=]|%2F)[A-Za-z0-9_-]+/g, 'interaction$1UID');
}

/** The page a step landed on; fails the test when the step left for another site instead. */
export function page(step: Navigation): Page {
  if (!step.page) throw new Error(`expected a page, was sent to ${step.leftTo}`);
  return step.page;
}

/** What a passkey page's script does first: POST for the ceremony's options (the form's CSRF token), JSON back. */
export async function ceremonyOptions(browser: Browser, current: Page, form: string) {
  const csrf = current.$(`${form} input[name=_csrf]`).attr('value')!;
  const url = new URL(current.$(form).attr('data-options')!, current.url).href;
  const response = await browser.fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ _csrf: csrf }).toString(),
  });
  if (response.status !== 200 || !/json/.test(response.headers.get('content-type') ?? '')) {
    throw new Error(`ceremony options answered ${response.status} ${response.headers.get('content-type')}`);
  }
  return (await response.json()) as {
    challenge: string;
    user: { id: string };
    rpId?: string;
    rp?: { id: string };
    allowCredentials?: { id: string }[];
    userVerification?: string;
  };
}
