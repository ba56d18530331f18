import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { expect } from 'vitest';

import { launchChromium } from './chromium.ts';
import { type FakeGoogle, startFakeGoogle } from './fake-google.ts';
import { startTestIdp, type TestIdp, tvClient } from './idp.ts';
import { pageChecker, type PageChecker } from './page-check.ts';
import { type SampleRp, startSampleRp } from './sample-rp.ts';
import { startSmtpServer, type TestSmtpServer } from './smtp.ts';

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

  return {
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
}

/** No serious or critical accessibility finding in any page the suite checked. */
export function expectNoSeriousAxeFindings(checker: PageChecker) {
  expect(checker.serious(), JSON.stringify(checker.serious(), null, 2)).toEqual([]);
}
