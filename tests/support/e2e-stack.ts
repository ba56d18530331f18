import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { expect } from 'vitest';

import { launchChromium } from './chromium.ts';
import { type FakeGoogle, startFakeGoogle } from './fake-google.ts';
import { startTestIdp, type TestIdp, tvClient } from './idp.ts';
import { pageChecker, type PageChecker } from './page-check.ts';
import { type SampleRp, startSampleRp } from './sample-rp.ts';
import { startSmtpServer, type TestSmtpServer } from './smtp.ts';

/** Someone with an account at the IdP. */
export interface Person {
  email: string;
  password: string;
}

/** Fills the IdP's login page and submits it. By id, not by label: the person may read another language. */
export async function submitLogin(page: Page, person: Person) {
  await page.locator('#email').fill(person.email);
  await page.locator('#password').fill(person.password);
  await page.locator('form[action$="/login"] button[type=submit]').click();
}

/** How the tests' IdP is branded: a name, a logo and a colour of its own, as an operator would set them. */
export const brandEnv = { PRODUCT_NAME: 'Acme Account', BRAND_LOGO_URL: '/static/logo.svg', BRAND_PRIMARY_COLOR: '#0f6e5c' };

export interface E2eStack {
  idp: TestIdp;
  rp: SampleRp;
  smtp: TestSmtpServer;
  google: FakeGoogle | undefined;
  browser: Browser;
  checker: PageChecker;
  /** A fresh browser profile (cookies of its own), English unless told otherwise. */
  newPage(options?: BrowserContextOptions): Promise<Page>;
  /** From the RP's home page, "Sign in" (or the RP's /login with `query`): the IdP's login page. */
  openLogin(page: Page, query?: string): Promise<void>;
  /** "Allow" (in any language) when consent is asked, which is the first time only; then back at the RP's home page. */
  allowIfAsked(page: Page): Promise<void>;
  /** Signs in at the RP as a person does: "Sign in", the email and password, "Allow" when asked; ends back at the RP. */
  signInAs(page: Page, person: Person): Promise<void>;
  close(): Promise<void>;
}

/**
 * One suite's world: the sample relying party, the IdP (PGlite) that knows it, real SMTP capture,
 * optionally the fake Google, and Chromium.
 */
export async function startE2eStack(suite: string, options: { env?: Record<string, string>; google?: boolean; issuerHost?: string } = {}): Promise<E2eStack> {
  const rp = await startSampleRp({ clientId: 'sample-notes', clientSecret: 'sample-notes-secret-0123456789abcdef', clientName: 'Sample Notes' });
  const smtp = await startSmtpServer();
  const google = options.google ? await startFakeGoogle() : undefined;
  const googleEnv: Record<string, string> = google ? { GOOGLE_CLIENT_ID: google.clientId, GOOGLE_CLIENT_SECRET: google.clientSecret, GOOGLE_ISSUER: google.issuer } : {};
  const idp = await startTestIdp({
    backend: 'pglite',
    clients: [rp.client(), tvClient],
    env: { SMTP_URL: smtp.url, ...brandEnv, ...googleEnv, ...options.env },
    ...(options.issuerHost ? { issuerHost: options.issuerHost } : {}),
  });
  google?.register(`${idp.issuer}/interaction/callback/google`);
  rp.useIssuer(idp.issuer);
  const browser = await launchChromium();
  const contexts: BrowserContext[] = [];
  const checker = pageChecker(suite);

  const stack: E2eStack = {
    idp,
    rp,
    smtp,
    google,
    browser,
    checker,
    async newPage(contextOptions = {}) {
      const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 800 }, ...contextOptions });
      context.setDefaultTimeout(10_000);
      contexts.push(context);
      return context.newPage();
    },
    async openLogin(page, query = '') {
      await page.goto(`${rp.origin}/${query ? `login?${query}` : ''}`);
      if (!query) await page.getByRole('link', { name: 'Sign in' }).click();
      await page.waitForURL(/\/interaction\//);
    },
    async allowIfAsked(page) {
      const allow = page.locator('form[action$="/confirm"] button[type=submit]');
      const atRp = () => page.url() === `${rp.origin}/`;
      await expect.poll(async () => atRp() || (await allow.isVisible())).toBe(true);
      if (!atRp()) await allow.click();
      await page.waitForURL(`${rp.origin}/`);
    },
    async signInAs(page, person) {
      await stack.openLogin(page);
      await submitLogin(page, person);
      await stack.allowIfAsked(page);
    },
    async close() {
      checker.writeReport();
      await Promise.allSettled(contexts.map((context) => context.close()));
      await browser?.close();
      await idp?.destroy();
      await rp?.close();
      await smtp?.close();
      await google?.stop();
    },
  };
  return stack;
}

/** No serious or critical accessibility finding in any page the suite checked. */
export function expectNoSeriousAxeFindings(checker: PageChecker) {
  expect(checker.serious(), JSON.stringify(checker.serious(), null, 2)).toEqual([]);
}
