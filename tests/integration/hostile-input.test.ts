import fc from 'fast-check';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { routesOf } from '../../src/app.ts';
import type { RouteEntry } from '../../src/http/scoped-routes.ts';
import { Browser } from '../support/browser.ts';
import { adminCliClient, backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization, submitLogin } from '../support/rp.ts';

/**
 * Every route of our pages and JSON APIs, read from the routers themselves (a new route is driven
 * too), is sent hostile values as a signed-in super admin with a valid CSRF token or bearer token:
 * control characters, NUL, huge strings, odd unicode, prototype keys, wrong types, arrays, broken
 * JSON. Whatever the answer, it is never a 5xx.
 */

const RUNS_PER_ROUTE = 6;
const CLI_REDIRECT = 'http://127.0.0.1:53682/callback';
const admin = { email: 'root@example.com', password: 'root passphrase 123' };

const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(
    '\u0000',
    'name\u0000with nul',
    '\u007f',
    '\u001b[31mred',
    'two\r\nlines',
    '\t',
    '\ud800',
    '\ufeff',
    '\u202eevil',
    '__proto__',
    'constructor',
    '../../etc/passwd',
    '<script>alert(1)</script>',
    "' or 1=1 --",
    '%00',
    'x'.repeat(5_000),
    '😀'.repeat(2_000),
    'é'.repeat(40_000),
  ),
);
const fieldName = fc.oneof(
  fc.constantFrom(
    'name', 'given_name', 'family_name', 'email', 'password', 'current_password', 'password_confirmation', 'picture', 'locale',
    'zoneinfo', 'code', 'id', 'token', 'role', 'roles', 'description', 'client_name', 'redirect_uris', 'invite', 'search',
    'response', 'metadata', 'email_verified', 'first_party', 'status', 'page', 'per_page', '__proto__', 'constructor',
  ),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    hostileString,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fieldName, tie('value'), { maxKeys: 3 }),
  ),
})).value;
const rawJson = fc.constantFrom(
  '{"__proto__": {"polluted": true}}',
  '{"name": "x", "__proto__": {"isAdmin": true}}',
  '{"constructor": {"prototype": {"polluted": true}}}',
  '{"name": ',
  '{bad json}',
  '"just a string"',
  '123',
  'null',
  '[]',
  `{"name": "${'x'.repeat(100_000)}"}`,
);
const jsonBody = fc.oneof(
  fc.dictionary(fieldName, jsonValue, { maxKeys: 6 }).map((value) => JSON.stringify(value)),
  fc.array(jsonValue, { maxLength: 3 }).map((value) => JSON.stringify(value)),
  rawJson,
);
const formFields = fc.dictionary(fieldName, fc.oneof(hostileString, fc.array(hostileString, { maxLength: 3 })), { maxKeys: 6 });

/** Lone surrogates cannot be percent-encoded in a path; as a browser does, they become U+FFFD. */
const wellFormed = (text: string) => text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

function urlEncoded(fields: Record<string, string | string[]>, extra: Record<string, string> = {}): string {
  const body = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) for (const item of [value].flat()) body.append(key, item);
  for (const [key, value] of Object.entries(extra)) body.set(key, value);
  return body.toString();
}

/** Routes that end the sessions or the account the others need go last. */
const ending = /\/(logout|delete|end-others|end|revoke|abort)$|^DELETE \/account\/api\/sessions/;
const order = (route: RouteEntry) => (ending.test(route.path) || ending.test(`${route.method} ${route.path}`) ? 2 : route.method === 'GET' ? 0 : 1);

/** The most production-like stack available: Postgres and Redis in CI, PGlite on a bare machine. */
const backend = backends.at(-1)!;

describe(`hostile input to every form and JSON route (${backend})`, () => {
  let idp: TestIdp;
  let consoleBrowser: Browser;
  let visitor: Browser;
  let adminToken: string;
  let accountToken: string;
  let csrf: string;
  let visitorCsrf: string;
  let uid: string;
  let targetId: string;

  beforeAll(async () => {
    idp = await startTestIdp({
      backend,
      env: {
        RATE_LIMIT_IP_LOGIN: '1000000',
        RATE_LIMIT_IP_FORMS: '1000000',
        LOGIN_MAX_FAILURES: '1000',
        ADMIN_API_RATE_LIMITS: 'guest:100000,user:100000,moderator:100000,admin:100000,super_admin:100000',
      },
    });
    await idp.idp.accounts.createAccount({ ...admin, roles: ['super_admin', 'user'], emailVerified: true });
    targetId = (await idp.idp.accounts.createAccount({ email: 'target@example.com', password: 'target passphrase 1', emailVerified: true })).id;

    // The console and the account pages: one browser signed in through /admin.
    consoleBrowser = newBrowser();
    await submitLogin(consoleBrowser, await consoleBrowser.open(`${idp.issuer}/admin`), admin.email, admin.password);
    csrf = (await consoleBrowser.open(`${idp.issuer}/account`)).$('input[name=_csrf]').first().attr('value')!;
    expect(csrf).toBeTruthy();

    // The admin API, as admin-cli gets its token.
    const api = `${idp.issuer}/admin/api`;
    const cli = await relyingParty(idp.issuer, adminCliClient);
    const cliStart = await startAuthorization(cli, { redirect_uri: CLI_REDIRECT, scope: 'openid admin', resource: api });
    const cliCallback = await signIn(new Browser([CLI_REDIRECT]), cliStart.url, admin);
    adminToken = (await oidc.authorizationCodeGrant(cli, cliCallback, { pkceCodeVerifier: cliStart.verifier, expectedState: cliStart.state, expectedNonce: cliStart.nonce })).access_token;

    // The account API, from an app with the account scope.
    const app = await relyingParty(idp.issuer, webAppClient);
    const appStart = await startAuthorization(app, { scope: 'openid account' });
    accountToken = (await exchangeCode(app, await signIn(newBrowser(), appStart.url, admin), appStart)).access_token;

    // The interaction pages: a visitor on the sign-in page of a live interaction.
    visitor = newBrowser();
    const login = await visitor.open((await startAuthorization(app, { scope: 'openid' })).url.href);
    uid = new URL(login.url).pathname.split('/')[2]!;
    visitorCsrf = login.$('input[name=_csrf]').first().attr('value')!;
  }, 120_000);
  afterAll(() => idp?.destroy());

  function paramValue(route: RouteEntry, name: string): string {
    if (name === 'uid') return uid;
    if (name === 'id') return route.path.includes('/clients/') ? 'no-such-client' : targetId;
    if (name === 'role') return 'moderator';
    if (name === 'name') return 'no-such-role';
    if (name === 'clientId') return webAppClient.client_id;
    return 'x';
  }

  async function send(route: RouteEntry, params: Record<string, string>, query: Record<string, string | string[]>, body: { form: Record<string, string | string[]>; json: string }) {
    const path = route.path.replace(/:(\w+)/g, (_whole, name: string) => encodeURIComponent(wellFormed(params[name] ?? paramValue(route, name))));
    const url = new URL(`${idp.issuer}${path}`);
    url.search = urlEncoded(query);
    const api = route.path.startsWith('/admin/api') ? adminToken : route.path.startsWith('/account/api') ? accountToken : undefined;
    const hasBody = !['GET', 'DELETE', 'OPTIONS'].includes(route.method);
    if (api) {
      return fetch(url, {
        method: route.method,
        headers: { authorization: `Bearer ${api}`, accept: 'application/json', ...(hasBody ? { 'content-type': 'application/json' } : {}) },
        body: hasBody ? body.json : undefined,
        redirect: 'manual',
      });
    }
    const browser = route.path.startsWith('/interaction') ? visitor : consoleBrowser;
    const token = browser === visitor ? visitorCsrf : csrf;
    return browser.fetch(url.href, {
      method: route.method,
      headers: hasBody ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
      body: hasBody ? urlEncoded(body.form, { _csrf: token }) : undefined,
    });
  }

  it('finds the routes in the routers: pages, forms and both JSON APIs', () => {
    const routes = routesOf(idp.idp.app).map((route) => `${route.method} ${route.path}`);
    expect(routes).toEqual(expect.arrayContaining(['POST /account/profile', 'PATCH /account/api/me', 'POST /admin/api/users', 'POST /interaction/:uid/register', 'POST /admin/users/:id/profile']));
  });

  it('answers a NUL in a profile field with a field error, on the page and the API', async () => {
    const account = await consoleBrowser.open(`${idp.issuer}/account`);
    const nul = (await consoleBrowser.submit(account, 'form[action="/account/profile"]', { name: 'Root\u0000User' })).page!;
    expect(nul.status).toBe(400);
    expect(nul.$('main').text()).toContain('The field name contains control characters');
    const newline = (await consoleBrowser.submit(account, 'form[action="/account/profile"]', { name: 'Root\nUser' })).page!;
    expect(newline.status).toBe(400);
    expect(newline.$('#name-error').text()).toBe('A name is one line of at most 200 characters.');

    const patch = (body: string) =>
      fetch(`${idp.issuer}/account/api/me`, { method: 'PATCH', headers: { authorization: `Bearer ${accountToken}`, 'content-type': 'application/json' }, body });
    const api = await patch(JSON.stringify({ name: 'Root\u0000User' }));
    expect(api.status).toBe(400);
    expect(await api.json()).toMatchObject({ error: 'invalid_request', field: 'name' });
    expect((await (await patch(JSON.stringify({ family_name: 'a\u0007b' }))).json()).field).toBe('family_name');
  });

  it('answers a NUL in a path parameter with 400, on the admin API and on a page', async () => {
    const api = await fetch(`${idp.issuer}/admin/api/clients/web%00app`, { headers: { authorization: `Bearer ${adminToken}`, accept: 'application/json' } });
    expect(api.status).toBe(400);
    expect(await api.json()).toMatchObject({ error: 'invalid_request', field: 'path' });
    const pageAnswer = await consoleBrowser.open(`${idp.issuer}/admin/clients/web%00app`);
    expect(pageAnswer.status).toBe(400);
    expect(pageAnswer.$('main').text()).toContain('The field path contains control characters');
  });

  it('answers prototype keys, broken JSON and oversized bodies on the JSON APIs with JSON 400 and 413', async () => {
    const call = (url: string, token: string, method: string, body: string) =>
      fetch(url, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: '*/*' }, body });
    for (const [url, token, method] of [
      [`${idp.issuer}/account/api/me`, accountToken, 'PATCH'],
      [`${idp.issuer}/admin/api/users`, adminToken, 'POST'],
    ] as const) {
      for (const body of ['{"__proto__": {"isAdmin": true}}', '{"constructor": {"prototype": {"isAdmin": true}}}', '{"name": ']) {
        const refused = await call(url, token, method, body);
        expect(refused.status, `${method} ${url} ${body}`).toBe(400);
        expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
        expect(await refused.json()).toMatchObject({ error: 'invalid_request', error_description: expect.any(String) });
      }
      const huge = await call(url, token, method, JSON.stringify({ name: 'x'.repeat(100_000) }));
      expect(huge.status).toBe(413);
      expect(huge.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await huge.json()).toMatchObject({ error: 'invalid_request', error_description: expect.any(String) });
    }
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('answers every route 2xx, 3xx or 4xx, never 5xx', async () => {
    const routes = [...routesOf(idp.idp.app)].sort((a, b) => order(a) - order(b));
    const failures: string[] = [];
    const answered: string[] = [];
    for (const route of routes) {
      const names = [...route.path.matchAll(/:(\w+)/g)].map((match) => match[1]!);
      const params = fc.record(Object.fromEntries(names.map((name) => [name, fc.oneof({ weight: 4, arbitrary: fc.constant(undefined as unknown as string) }, hostileString)])));
      await fc.assert(
        fc.asyncProperty(params, fc.dictionary(fieldName, fc.oneof(hostileString, fc.array(hostileString, { maxLength: 2 })), { maxKeys: 3 }), formFields, jsonBody, async (pathParams, query, form, json) => {
          const response = await send(route, Object.fromEntries(Object.entries(pathParams).filter(([, value]) => value !== undefined)), query, { form, json });
          await response.arrayBuffer();
          answered.push(`${response.status} ${route.method} ${route.path}`);
          if (response.status >= 500) {
            failures.push(`${route.method} ${route.path} -> ${response.status} (${response.headers.get('x-request-id')})`);
            return false;
          }
          return true;
        }),
        { numRuns: RUNS_PER_ROUTE, endOnFailure: true },
      ).catch((error: Error) => failures.push(`${route.method} ${route.path}: ${error.message.slice(0, 300)}`));
    }
    expect(failures).toEqual([]);
    // Signed in, with valid CSRF and tokens, most routes got past their guards to their own checks.
    expect(answered.filter((answer) => /^2\d\d /.test(answer)).length).toBeGreaterThan(routes.length / 2);
  }, 600_000);
});
