/// <reference lib="dom" />  // callbacks of page.evaluate run in the browser
/**
 * `npm run screenshots`: every page of the IdP at 390 and 1280 px, light and dark, as PNGs in
 * screenshots/ with axe-core run on each. The IdP runs in this process on the embedded database
 * in a temporary folder (no Postgres, Redis or SMTP), seeded with what the pages need; Debian's
 * Chromium drives it. Prints a table; exits non-zero when axe finds a violation or a page fails.
 *
 * To add a page, add an entry to `pages` (a name and how to get there).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import axe from 'axe-core';
import { generate } from 'otplib';
import type { Browser, BrowserContext, Page } from 'playwright-core';

import { loadConfig } from '../src/config.ts';
import { createIdp, type Idp } from '../src/idp.ts';
import { createLogger } from '../src/logger.ts';
import { projectRoot } from '../src/paths.ts';
import { launchChromium } from '../tests/support/chromium.ts';

export const defaultOutDir = path.join(projectRoot, 'screenshots');
export const widths = [390, 1280] as const;
export const schemes = ['light', 'dark'] as const;
type Scheme = (typeof schemes)[number];

interface Person {
  email: string;
  password: string;
  name: string;
}

/** The seeded people: one with an authenticator app, one without, one super admin. */
export const people = {
  nora: { email: 'nora@example.com', password: 'nora passphrase 123', name: 'Nora Example' },
  tom: { email: 'tom@example.com', password: 'tom passphrase 123', name: 'Tom Twostep' },
  ada: { email: 'ada@example.com', password: 'ada passphrase 123', name: 'Ada Admin' },
} satisfies Record<string, Person>;

const sampleClient = (redirectUri: string) => ({
  client_id: 'sample-notes',
  client_secret: 'sample-notes-secret-0123456789abcdef',
  client_name: 'Sample Notes',
  redirect_uris: [redirectUri],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
});
const tvClient = {
  client_id: 'tv',
  client_name: 'Living Room TV',
  redirect_uris: [],
  grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
  response_types: [],
  token_endpoint_auth_method: 'none',
};

/** The running, seeded IdP and the browser that visits it. */
export interface World {
  issuer: string;
  /** The sample app's redirect URI: a page that says "signed in", served here. */
  redirectUri: string;
  idp: Idp;
  browser: Browser;
  accountIds: Record<keyof typeof people, string>;
  /** A fresh browser profile, or one signed in as a person (signed in once, then reused unless `fresh`). */
  newPage(as?: keyof typeof people, fresh?: boolean): Promise<Page>;
  close(): Promise<void>;
}

/** How to get to a page: `path` alone, or `open` for pages in the middle of a flow. */
export interface PageToShoot {
  name: string;
  /** Signed in as this person first. */
  as?: keyof typeof people;
  /** Signs in anew rather than reusing the person's session: for pages that end it or, like the device flow, replace it. */
  freshSignIn?: boolean;
  path?: string | ((world: World) => string);
  open?: (page: Page, world: World) => Promise<void>;
}

/** A new authorization request of the sample app (PKCE), which lands on the sign-in page. */
function authorizationUrl(world: World, scope = 'openid email profile') {
  const verifier = randomBytes(32).toString('base64url');
  const params = new URLSearchParams({
    client_id: 'sample-notes',
    redirect_uri: world.redirectUri,
    response_type: 'code',
    scope,
    state: randomBytes(8).toString('hex'),
    nonce: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  return `${world.issuer}/auth?${params}`;
}

async function startSignIn(page: Page, world: World) {
  await page.goto(authorizationUrl(world));
  await page.waitForURL(/\/interaction\//);
}

async function submitLogin(page: Page, person: Person) {
  await page.locator('#email').fill(person.email);
  await page.locator('#password').fill(person.password);
  await Promise.all([page.waitForNavigation(), page.locator('form[action$="/login"] button[type=submit]').click()]);
}

/** Signs in on the page the IdP shows and allows whatever is asked, until the IdP lets go of the browser. */
async function signInThrough(page: Page, person: Person) {
  await submitLogin(page, person);
  const allow = page.locator('form[action$="/confirm"] button[type=submit]');
  while (/\/interaction\//.test(page.url()) && (await allow.count())) {
    await Promise.all([page.waitForNavigation(), allow.click()]);
  }
}

/** The link to `pathPart` in the newest mail of the development outbox. */
async function linkInNewestMail(page: Page, world: World, pathPart: string): Promise<string> {
  await page.goto(`${world.issuer}/dev/outbox`);
  await page.locator('a[href^="/dev/outbox/"]').first().click();
  const href = await page.locator(`a[href*="${pathPart}"]`).first().getAttribute('href');
  if (!href) throw new Error(`no ${pathPart} link in the newest mail`);
  return href;
}

async function startDeviceFlow(world: World): Promise<{ user_code: string; verification_uri_complete: string }> {
  const response = await fetch(`${world.issuer}/device/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: tvClient.client_id, scope: 'openid email' }),
  });
  if (!response.ok) throw new Error(`device authorization: HTTP ${response.status}`);
  return (await response.json()) as { user_code: string; verification_uri_complete: string };
}

/** Every page, in the order a person meets them. Extend here. */
export const pages: PageToShoot[] = [
  { name: 'home', path: '/' },
  { name: 'sign-in', open: startSignIn },
  {
    name: 'register',
    open: async (page, world) => {
      await startSignIn(page, world);
      await page.goto(`${page.url().replace(/\/$/, '')}/register`);
    },
  },
  {
    name: 'check-email',
    open: async (page, world) => {
      await startSignIn(page, world);
      await page.goto(`${page.url().replace(/\/$/, '')}/register`);
      await page.locator('#email').fill(`new-${randomBytes(4).toString('hex')}@example.com`);
      await page.locator('#password').fill('a new passphrase 123');
      await page.locator('#password_confirmation').fill('a new passphrase 123');
      await Promise.all([page.waitForNavigation(), page.locator('form[action$="/register"] button[type=submit]').click()]);
    },
  },
  {
    name: 'second-factor',
    open: async (page, world) => {
      await startSignIn(page, world);
      await submitLogin(page, people.tom);
    },
  },
  {
    name: 'consent',
    open: async (page, world) => {
      await startSignIn(page, world);
      await submitLogin(page, people.nora);
    },
  },
  { name: 'forgot-password', path: '/account/forgot-password' },
  {
    name: 'reset-password',
    open: async (page, world) => {
      await page.goto(`${world.issuer}/account/forgot-password`);
      await page.locator('#email').fill(people.nora.email);
      await Promise.all([page.waitForNavigation(), page.locator('form[action$="/forgot-password"] button[type=submit]').click()]);
      await page.goto(new URL(await linkInNewestMail(page, world, 'reset-password'), world.issuer).href);
    },
  },
  { name: 'invalid-link', path: '/account/reset-password?token=not-a-token' },
  { name: 'error', path: '/interaction/no-such-interaction' },
  { name: 'device-code', path: '/device' },
  {
    name: 'device-confirm',
    as: 'nora',
    freshSignIn: true,
    open: async (page, world) => {
      const device = await startDeviceFlow(world);
      await page.goto(device.verification_uri_complete);
      const submit = page.locator('form button[type=submit]').first();
      if (await page.locator('input[name="user_code"]').count()) await Promise.all([page.waitForNavigation(), submit.click()]);
    },
  },
  {
    name: 'device-success',
    as: 'nora',
    freshSignIn: true,
    open: async (page, world) => {
      const device = await startDeviceFlow(world);
      await page.goto(device.verification_uri_complete);
      if (await page.locator('input[name="user_code"]').count()) await Promise.all([page.waitForNavigation(), page.locator('form button[type=submit]').first().click()]);
      await Promise.all([page.waitForNavigation(), page.locator('form[action$="/confirm"] button[type=submit]').click()]);
    },
  },
  { name: 'account', as: 'nora', path: '/account' },
  { name: 'account-security', as: 'nora', path: '/account/security' },
  { name: 'account-devices', as: 'nora', path: '/account/devices' },
  { name: 'account-activity', as: 'nora', path: '/account/activity' },
  { name: 'account-delete', as: 'nora', path: '/account/delete' },
  { name: 'admin', as: 'ada', path: '/admin' },
  { name: 'admin-user', as: 'ada', path: (world) => `/admin/users/${world.accountIds.tom}` },
  { name: 'admin-clients', as: 'ada', path: '/admin/clients' },
  { name: 'admin-roles', as: 'ada', path: '/admin/roles' },
  { name: 'admin-audit', as: 'ada', path: '/admin/audit' },
  { name: 'sign-out', as: 'nora', freshSignIn: true, path: '/session/end' },
  {
    name: 'signed-out',
    as: 'nora',
    freshSignIn: true,
    open: async (page, world) => {
      await page.goto(`${world.issuer}/session/end`);
      await Promise.all([page.waitForNavigation(), page.locator('button[name="logout"][value="yes"]').click()]);
    },
  },
  { name: 'dev-outbox', path: '/dev/outbox' },
  {
    name: 'dev-outbox-mail',
    open: async (page, world) => {
      await page.goto(`${world.issuer}/dev/outbox`);
      await Promise.all([page.waitForNavigation(), page.locator('a[href^="/dev/outbox/"]').first().click()]);
    },
  },
];

const discard = () =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

/** Starts the IdP on the embedded database in a temporary folder and seeds accounts, a second factor, an audit entry and a mail. */
export async function startWorld(): Promise<World> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'idp-screenshots-'));
  const listen = async (server: Server) => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const app = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/plain' }).end('signed in'));
  const redirectUri = `${await listen(app)}/callback`;
  const clientsFile = path.join(dataDir, 'clients.json');
  writeFileSync(clientsFile, JSON.stringify([sampleClient(redirectUri), tvClient]));
  const server: Server = createServer();
  const issuer = await listen(server);
  const config = loadConfig({ NODE_ENV: 'development', ISSUER: issuer, DATA_DIR: dataDir, CLIENTS_FILE: clientsFile, LOG_LEVEL: 'error' });
  const idp = await createIdp(config, createLogger('error', discard()));
  server.on('request', idp.app.callback());

  const [nora, tom, ada] = await Promise.all([
    idp.accounts.createAccount({ ...people.nora, emailVerified: true }),
    idp.accounts.createAccount({ ...people.tom, emailVerified: true }),
    idp.accounts.createAccount({ ...people.ada, emailVerified: true, roles: ['super_admin'] }),
  ]);
  // Tom's authenticator app: the confirmation writes an audit entry and a notice to the outbox.
  const { secret } = await idp.secondFactors.startTotp(tom!.id, people.tom.email);
  await idp.secondFactors.confirmTotp(tom!.id, await generate({ secret }), '127.0.0.1');

  const browser = await launchChromium();
  const contexts: BrowserContext[] = [];
  const signedIn = new Map<string, Awaited<ReturnType<BrowserContext['storageState']>>>();

  async function newContext(state?: Awaited<ReturnType<BrowserContext['storageState']>>) {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 800 }, ...(state ? { storageState: state } : {}) });
    context.setDefaultTimeout(15_000);
    contexts.push(context);
    return context;
  }

  const world: World = {
    issuer,
    redirectUri,
    idp,
    browser,
    accountIds: { nora: nora!.id, tom: tom!.id, ada: ada!.id },
    async newPage(as, fresh = false) {
      if (!as) return (await newContext()).newPage();
      if (fresh || !signedIn.has(as)) {
        const page = await (await newContext()).newPage();
        // The admin console starts its own sign-in; the account page expects one through an app.
        if (as === 'ada') await page.goto(`${issuer}/admin`);
        else await startSignIn(page, world);
        await signInThrough(page, people[as]);
        if (fresh) return page;
        signedIn.set(as, await page.context().storageState());
      }
      return (await newContext(signedIn.get(as))).newPage();
    },
    async close() {
      await Promise.allSettled(contexts.map((context) => context.close()));
      await browser.close();
      for (const listening of [server, app]) {
        listening.closeAllConnections();
        await new Promise((resolve) => listening.close(resolve));
      }
      await idp.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return world;
}

export interface AxeViolation {
  id: string;
  impact: string | null | undefined;
  help: string;
  targets: string[];
}

export interface ShotResult {
  name: string;
  url: string;
  /** HTTP status of the page shown; undefined when it could not be reached. */
  status: number | undefined;
  /** Why the page could not be shot (a 404 or a failed step); no files then. */
  problem?: string;
  files: string[];
  violations: (AxeViolation & { width: number; scheme: Scheme })[];
}

async function runAxe(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not govern.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axe.source);
  const results = await page.evaluate(() => (window as unknown as { axe: typeof axe }).axe.run(document, { resultTypes: ['violations'] }));
  return results.violations.map((violation) => ({
    id: violation.id,
    impact: violation.impact,
    help: violation.help,
    targets: violation.nodes.map((node) => node.target.join(' ')),
  }));
}

/** Opens one page, then takes its PNG at each width and scheme and runs axe on each. */
async function shoot(world: World, entry: PageToShoot, outDir: string): Promise<ShotResult> {
  const result: ShotResult = { name: entry.name, url: '', status: undefined, files: [], violations: [] };
  let page: Page | undefined;
  try {
    page = await world.newPage(entry.as, entry.freshSignIn);
    let status: number | undefined;
    const main = page.mainFrame();
    page.on('response', (response) => {
      if (response.request().isNavigationRequest() && response.frame() === main) status = response.status();
    });
    if (entry.open) await entry.open(page, world);
    else {
      const target = typeof entry.path === 'function' ? entry.path(world) : (entry.path ?? '/');
      await page.goto(new URL(target, world.issuer).href);
    }
    await page.waitForLoadState('load');
    result.url = page.url().replace(world.issuer, '');
    result.status = status;
    if (status === 404 || status === 405) {
      result.problem = `not found (${status})`;
      return result;
    }
    if (entry.as && status === 401) throw new Error(`not signed in as ${entry.as} (401)`);
    for (const scheme of schemes) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const width of widths) {
        await page.setViewportSize({ width, height: width < 600 ? 844 : 800 });
        const file = path.join(outDir, `${entry.name}-${width}-${scheme}.png`);
        await page.screenshot({ path: file, fullPage: true });
        result.files.push(file);
        result.violations.push(...(await runAxe(page)).map((violation) => ({ ...violation, width, scheme })));
      }
    }
  } catch (error) {
    result.problem = (error as Error).message.split('\n')[0]!;
  } finally {
    await page?.context().close();
  }
  return result;
}

/** Shoots the pages named in `only` (all when unset) into `outDir`, one after another. */
export async function takeScreenshots(options: { only?: string[]; outDir?: string; world?: World } = {}): Promise<ShotResult[]> {
  const outDir = options.outDir ?? defaultOutDir;
  mkdirSync(outDir, { recursive: true });
  const chosen = options.only ? pages.filter((entry) => options.only!.includes(entry.name)) : pages;
  const unknown = options.only?.filter((name) => !pages.some((entry) => entry.name === name)) ?? [];
  if (unknown.length) throw new Error(`no such page: ${unknown.join(', ')} (known: ${pages.map((entry) => entry.name).join(', ')})`);
  const world = options.world ?? (await startWorld());
  try {
    const results: ShotResult[] = [];
    for (const entry of chosen) results.push(await shoot(world, entry, outDir));
    return results;
  } finally {
    if (!options.world) await world.close();
  }
}

/** One line per page: name, where it ended, HTTP status, axe violations per scheme, files written. */
export function summaryTable(results: ShotResult[]): string {
  const rows = results.map((result) => {
    const count = (scheme: Scheme) => new Set(result.violations.filter((violation) => violation.scheme === scheme).map((violation) => violation.id)).size;
    return [
      result.name,
      result.url || '-',
      String(result.status ?? '-'),
      result.problem ? '-' : `${count('light')} / ${count('dark')}`,
      result.problem ?? `${result.files.length} PNG`,
    ];
  });
  const header = ['page', 'url', 'status', 'axe light / dark', 'result'];
  const all = [header, ...rows];
  const sizes = header.map((_cell, column) => Math.max(...all.map((row) => row[column]!.length)));
  const line = (row: string[]) => row.map((cell, column) => cell.padEnd(sizes[column]!)).join('  ').trimEnd();
  const details = results.flatMap((result) =>
    [...new Map(result.violations.map((violation) => [`${violation.id} ${violation.scheme}`, violation])).values()].map(
      (violation) => `  ${result.name} (${violation.scheme}, ${violation.width}px): ${violation.id} [${violation.impact}] ${violation.help}: ${violation.targets.slice(0, 3).join(', ')}`,
    ),
  );
  return [line(header), ...rows.map(line), ...(details.length ? ['', 'axe violations:', ...details] : [])].join('\n');
}

async function main() {
  const only = process.argv.slice(2);
  const results = await takeScreenshots(only.length ? { only } : {});
  console.log(summaryTable(results));
  const violations = results.reduce((sum, result) => sum + result.violations.length, 0);
  const notFound = results.filter((result) => result.status === 404 || result.status === 405).length;
  const failed = results.filter((result) => result.problem && !result.problem.startsWith('not found')).length;
  console.log(`\n${results.length} pages, ${results.reduce((sum, result) => sum + result.files.length, 0)} PNGs in ${path.relative(process.cwd(), defaultOutDir) || '.'}/; ${violations} axe violations, ${notFound} not found, ${failed} failed.`);
  if (violations || failed) process.exitCode = 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
