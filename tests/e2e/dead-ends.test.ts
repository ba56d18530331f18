import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { chromiumMissing } from '../support/chromium.ts';
import { type E2eStack, expectNoSeriousAxeFindings, startE2eStack, submitLogin } from '../support/e2e-stack.ts';

const alice = { email: 'alice@example.com', password: 'alice passphrase 1' };
const bob = { email: 'bob@example.com', password: 'bob passphrase 1' };
const admin = { email: 'admin@example.com', password: 'admin passphrase 1' };

describe.skipIf(chromiumMissing())('no dead ends, in Chromium', () => {
  let stack: E2eStack;

  beforeAll(async () => {
    stack = await startE2eStack('dead-ends');
    for (const person of [alice, bob]) await stack.idp.idp.accounts.createAccount({ ...person, emailVerified: true });
    await stack.idp.idp.accounts.createAccount({ ...admin, roles: ['admin'], emailVerified: true });
  });
  afterAll(() => stack?.close());

  it('signed out, /account asks to sign in and comes back to the account page', async () => {
    const page = await stack.newPage();
    await page.goto(`${stack.idp.issuer}/account`);
    await page.waitForURL(/\/interaction\//);
    await stack.checker.check(page, 'account-sign-in');
    await submitLogin(page, alice);
    await page.waitForURL(`${stack.idp.issuer}/account`);
    await expect.poll(() => page.locator('body').innerText()).toContain(alice.email);
  });

  it('consent "Not you?" signs in another account and the app receives that account', async () => {
    const page = await stack.newPage();
    await stack.signInAs(page, alice);
    await stack.openLogin(page, 'prompt=consent');
    await expect.poll(() => page.locator('.signed-in-as strong').innerText()).toBe(alice.email);
    await stack.checker.check(page, 'consent-not-you');
    await page.getByRole('button', { name: 'Not you? Use another account' }).click();
    await expect.poll(() => page.locator('form[action$="/login"]').count()).toBe(1);
    await submitLogin(page, bob);
    await expect.poll(() => page.locator('.signed-in-as strong').innerText()).toBe(bob.email);
    await stack.allowIfAsked(page);
    await expect.poll(() => page.locator('#user-email').innerText()).toBe(bob.email);
  });

  it('a non-admin at /admin switches to an admin account', async () => {
    const page = await stack.newPage();
    await page.goto(`${stack.idp.issuer}/admin`);
    await submitLogin(page, bob);
    await expect.poll(() => page.locator('h1').innerText()).toBe('Not allowed');
    await stack.checker.check(page, 'admin-not-allowed');
    await page.getByRole('button', { name: 'Use another account' }).click();
    await expect.poll(() => page.locator('form[action$="/login"]').count()).toBe(1);
    await submitLogin(page, admin);
    await expect.poll(() => page.locator('h1').innerText()).toBe('Users');
  });

  it('has no serious or critical accessibility findings on any page it saw', () => {
    expectNoSeriousAxeFindings(stack.checker);
  });
});
