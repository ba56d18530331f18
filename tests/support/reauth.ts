import type { Browser, Navigation, Page } from './browser.ts';
import { newBrowser } from './rp.ts';

/** An attacker's browser holding every cookie the victim's holds for the IdP (session and CSRF cookies): a stolen session. */
export async function stolenSession(victim: Browser, issuer: string): Promise<Browser> {
  const thief = newBrowser();
  for (const cookie of await victim.jar.getCookies(`${issuer}/`, { allPaths: true })) {
    await thief.jar.setCookie(cookie.clone()!, `${issuer}${cookie.path ?? '/'}`);
  }
  return thief;
}

/** Whether a step ended on the "Confirm it is you" page. */
export const onReauthPage = (step: Navigation): boolean => step.page !== undefined && new URL(step.page.url).pathname === '/account/reauth';

/**
 * Confirms it is the person on the re-authentication page: the page a sensitive change sent the browser to,
 * or the page opened fresh. Returns where the browser was sent back to.
 */
export async function reauthenticate(browser: Browser, issuer: string, proof: { password: string; code?: string }, from?: Page): Promise<Navigation> {
  const current = from ?? (await browser.open(`${issuer}/account/reauth`));
  return browser.submit(current, 'form[action="/account/reauth"]', { password: proof.password, ...(proof.code ? { code: proof.code } : {}) });
}
