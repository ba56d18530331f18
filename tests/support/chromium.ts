import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`); `npx playwright install` cannot download browsers here. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** CI (.ci/run) requires the browser tests: there a missing Chromium fails them instead of skipping. */
const required = process.env.E2E_REQUIRED === 'true' || process.env.CI === 'true';

/**
 * Why the browser tests cannot run here, or undefined when they can. Where they are required,
 * a missing browser throws, so the test file fails.
 */
export function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const reason = `Chromium is not installed at ${CHROMIUM_PATH}: browser tests skipped (apt-get install chromium, or set CHROMIUM_PATH).`;
  if (required) throw new Error(`${reason} They are required here (E2E_REQUIRED or CI is true).`);
  console.warn(reason);
  return reason;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
