import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { chromiumMissing } from '../support/chromium.ts';
import { type E2eStack, expectNoSeriousAxeFindings, startE2eStack } from '../support/e2e-stack.ts';

const rita = { email: 'rita@example.com', password: 'rita passphrase 12345', name: 'Rita' };
/** Short, so that the suite can outlast it (sign-ins count in whole seconds: one more, to be sure). */
const MAX_AGE = 6;
const outlastTheWindow = () => new Promise((resolve) => setTimeout(resolve, (MAX_AGE + 1) * 1000 + 200));

// The IdP is http://localhost:<port>: WebAuthn needs a domain name.
describe.skipIf(chromiumMissing())('confirming it is you before a sensitive change, in Chromium', () => {
  let stack: E2eStack;

  beforeAll(async () => {
    stack = await startE2eStack('reauthentication', { issuerHost: 'localhost', env: { REAUTH_MAX_AGE: String(MAX_AGE) } });
    await stack.idp.idp.accounts.createAccount({ ...rita, emailVerified: true });
  });
  afterAll(() => stack?.close());

  const region = (page: Page, name: string) => page.getByRole('region', { name });

  it('asks for the password after a while, then returns to the form to submit again', async () => {
    const page = await stack.newPage();
    await stack.signInAs(page, rita);
    await outlastTheWindow();
    await page.goto(`${stack.idp.issuer}/account/security`);
    await region(page, 'Email address').getByLabel('New email address').fill('rita.new@example.com');
    await region(page, 'Email address').getByRole('button', { name: 'Change email address' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Confirm it is you');
    await stack.checker.check(page, 'reauthenticate');

    await page.getByLabel('Your password').fill('not my password');
    await page.getByRole('button', { name: 'Confirm', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('That did not confirm it is you.');
    await stack.checker.check(page, 'reauthenticate-wrong');
    await page.getByLabel('Your password').fill(rita.password);
    await page.getByRole('button', { name: 'Confirm', exact: true }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe('You confirmed it is you. Submit your change again.');
    expect(new URL(page.url()).hash).toBe('#email-title');

    await region(page, 'Email address').getByLabel('New email address').fill('rita.new@example.com');
    await region(page, 'Email address').getByRole('button', { name: 'Change email address' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toContain('Check the new address');
  }, 120_000);

  it('a passkey added after a while needs the password first; later the passkey itself confirms', async () => {
    const page = await stack.newPage();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    await stack.signInAs(page, rita);
    await outlastTheWindow();

    // The page's script asks for the ceremony's options, is refused, and goes to confirm first.
    await page.goto(`${stack.idp.issuer}/account/security`);
    await page.getByLabel('Name for the new passkey').fill('Rita key');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Confirm it is you');
    await page.getByLabel('Your password').fill(rita.password);
    await page.getByRole('button', { name: 'Confirm', exact: true }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe('You confirmed it is you. Submit your change again.');
    await page.getByLabel('Name for the new passkey').fill('Rita key');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe('Your passkey is added: you can sign in with it.');

    // With a passkey and no authenticator app, the password alone is not enough: the passkey confirms.
    await outlastTheWindow();
    await page.getByRole('button', { name: 'Remove Rita key' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Confirm it is you');
    await expect.poll(() => page.getByLabel('Your password').count()).toBe(0);
    await stack.checker.check(page, 'reauthenticate-passkey');
    await page.getByRole('button', { name: 'Confirm with a passkey' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe('You confirmed it is you. Submit your change again.');
    await page.getByRole('button', { name: 'Remove Rita key' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe('The passkey is removed.');
  }, 120_000);

  it('has no serious or critical accessibility findings on any page it saw', () => {
    expectNoSeriousAxeFindings(stack.checker);
  });
});
