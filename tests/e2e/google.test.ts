import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { chromiumMissing } from '../support/chromium.ts';
import { type E2eStack, expectNoSeriousAxeFindings, startE2eStack } from '../support/e2e-stack.ts';

describe.skipIf(chromiumMissing())('signing in with Google (the fake one), in Chromium', () => {
  let stack: E2eStack;

  beforeAll(async () => {
    stack = await startE2eStack('google', { google: true });
    stack.google!.addAccount('google-ana', { email: 'ana@gmail.test', email_verified: true, name: 'Ana Lima', given_name: 'Ana', family_name: 'Lima' });
  });
  afterAll(() => stack?.close());

  it('continues with Google from the login page, consents, and lands at the RP; the account page shows the link', async () => {
    const page = await stack.newPage();
    await stack.openLogin(page);
    await stack.checker.check(page, 'login-with-google');

    stack.google!.signInAs('google-ana');
    await page.getByRole('button', { name: 'Continue with Google' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Allow access?');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${stack.rp.origin}/`);
    await expect.poll(() => page.locator('#user-email').innerText()).toBe('ana@gmail.test');
    await expect.poll(() => page.locator('#user-name').innerText()).toBe('Ana Lima');

    await page.goto(`${stack.idp.issuer}/account/security`);
    await expect.poll(() => page.locator('.google-email').innerText()).toBe('ana@gmail.test');
    await stack.checker.check(page, 'account');
  });

  it('says so when the person cancels at Google', async () => {
    const page = await stack.newPage();
    await page.goto(`${stack.rp.origin}/login`);
    stack.google!.denyNext();
    await page.getByRole('button', { name: 'Continue with Google' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toBe('Google sign-in was cancelled.');
    await stack.checker.check(page, 'login-google-cancelled');
  });

  it('has no serious or critical accessibility findings on any page it saw', () => {
    expectNoSeriousAxeFindings(stack.checker);
  });
});
