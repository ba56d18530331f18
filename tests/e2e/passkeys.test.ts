import type { CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { chromiumMissing } from '../support/chromium.ts';
import { type E2eStack, expectNoSeriousAxeFindings, startE2eStack, submitLogin } from '../support/e2e-stack.ts';

const sam = { email: 'sam@example.com', password: 'sam passphrase 12345', name: 'Sam Passkey' };

/**
 * Chromium's virtual authenticator (DevTools protocol): a platform authenticator with resident
 * keys that verifies the user at once, so every ceremony completes without a prompt.
 */
async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}

// WebAuthn refuses IP addresses as RP IDs: this suite's IdP is http://localhost:<port> (a secure context).
describe.skipIf(chromiumMissing())('passkeys in Chromium, with a virtual authenticator', () => {
  let stack: E2eStack;

  beforeAll(async () => {
    stack = await startE2eStack('passkeys', { issuerHost: 'localhost' });
    await stack.idp.idp.accounts.createAccount({ ...sam, emailVerified: true });
  });
  afterAll(() => stack?.close());

  /** From the RP's home page to the IdP's login page. */
  async function openLogin(page: Page) {
    await stack.openLogin(page);
    await expect.poll(() => page.locator('h1').innerText()).toBe('Sign in');
  }

  /** Allows access when asked, and returns how the RP says the person signed in (the ID token's amr). */
  async function backAtRp(page: Page): Promise<string> {
    await stack.allowIfAsked(page);
    await expect.poll(() => page.locator('#user-email').innerText()).toBe(sam.email);
    return page.locator('#user-amr').innerText();
  }

  async function signOut(page: Page) {
    await page.getByRole('link', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL(`${stack.rp.origin}/logged-out`);
  }

  // Four sign-ins and four accessibility checks in one browser: about 18 s on a quiet 2-core machine, over 30 s on a busy one.
  it('registers a passkey on the account page, signs in with password + passkey, then with the passkey alone, and removes it', { timeout: 90_000 }, async () => {
    const page = await stack.newPage();
    const { cdp, authenticatorId } = await virtualAuthenticator(page);

    // Signed in with the password, she adds a passkey from her account page.
    await openLogin(page);
    await submitLogin(page, sam);
    expect(await backAtRp(page)).toBe('pwd');

    await page.goto(`${stack.idp.issuer}/account/security`);
    await expect.poll(() => page.getByText('You have no passkeys yet.').isVisible()).toBe(true);
    await expect.poll(() => page.getByText('Passkeys need JavaScript').isVisible()).toBe(false);
    await page.getByLabel('Name for the new passkey').fill('Chromium test key');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe('Your passkey is added: you can sign in with it.');
    await expect.poll(() => page.locator('.passkey-name').allInnerTexts()).toEqual(['Chromium test key']);
    await stack.checker.check(page, 'account-passkeys');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);

    // Password, then the passkey as the second step: amr pwd + hwk.
    await page.goto(`${stack.rp.origin}/`);
    await signOut(page);
    await openLogin(page);
    await submitLogin(page, sam);
    await expect.poll(() => page.locator('h1').innerText()).toBe('Two-step verification');
    await expect.poll(() => page.getByRole('button', { name: 'Use a passkey' }).isVisible()).toBe(true);
    await stack.checker.check(page, 'second-factor-passkey');
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    expect(await backAtRp(page)).toBe('pwd hwk');

    // No email, no password: the passkey alone (user verified) is two factors.
    await signOut(page);
    await openLogin(page);
    await expect.poll(() => page.getByRole('button', { name: 'Sign in with a passkey' }).isVisible()).toBe(true);
    await stack.checker.check(page, 'login-passkey');
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    expect(await backAtRp(page)).toBe('hwk');

    // She removes it; the page says so and the list is empty.
    await page.goto(`${stack.idp.issuer}/account/security`);
    await expect.poll(() => page.locator('.passkey .hint').innerText()).not.toContain('never');
    await page.getByRole('button', { name: 'Remove Chromium test key' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe('The passkey is removed.');
    await expect.poll(() => page.locator('.passkey-name').count()).toBe(0);

    // Her authenticator still offers the passkey, but it is gone here: refused, readable.
    await page.goto(`${stack.rp.origin}/`);
    await signOut(page);
    await openLogin(page);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect.poll(() => page.getByRole('alert').first().innerText()).toBe('That passkey was not accepted for this account. Try again, or use another way to sign in.');
    await stack.checker.check(page, 'login-passkey-refused');
  });

  it('shows a readable message in the page when no authenticator answers', async () => {
    const page = await stack.newPage();
    const { cdp, authenticatorId } = await virtualAuthenticator(page);
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
    await openLogin(page);
    // Without an authenticator, Chromium's own dialog would wait; a short timeout ends the request.
    await page.evaluate(() => {
      const original = navigator.credentials.get.bind(navigator.credentials);
      navigator.credentials.get = (options?: CredentialRequestOptions) => {
        if (options?.publicKey) options.publicKey.timeout = 500;
        return original(options);
      };
    });
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect.poll(() => page.locator('.passkey-error').innerText(), { timeout: 15_000 }).toMatch(/No passkey was used|could not be used/);
  });

  it('hides the passkey button when JavaScript is off; the password still works', async () => {
    const page = await stack.newPage({ javaScriptEnabled: false });
    await openLogin(page);
    expect(await page.getByRole('button', { name: 'Sign in with a passkey' }).isVisible()).toBe(false);
    await submitLogin(page, sam);
    expect(await backAtRp(page)).toBe('pwd');
  });

  it('has no serious or critical accessibility findings on any page it saw', () => {
    expectNoSeriousAxeFindings(stack.checker);
  });
});
