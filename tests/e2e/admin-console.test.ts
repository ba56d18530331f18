import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { chromiumMissing } from '../support/chromium.ts';
import { type E2eStack, expectNoSeriousAxeFindings, startE2eStack, submitLogin } from '../support/e2e-stack.ts';

/** Every user's password but the admin's. */
const PASSWORD = 'a passphrase 123';

describe.skipIf(chromiumMissing())('the admin console, in Chromium', () => {
  let stack: E2eStack;

  beforeAll(async () => {
    stack = await startE2eStack('admin-console');
    await stack.idp.idp.accounts.createAccount({ email: 'admin@example.com', password: 'admin passphrase 1', roles: ['admin'], emailVerified: true });
    for (const name of ['Nora North', 'Sam South', 'Eve East']) {
      await stack.idp.idp.accounts.createAccount({ email: `${name.split(' ')[0]!.toLowerCase()}@example.com`, password: PASSWORD, name, emailVerified: true });
    }
  });
  afterAll(() => stack?.close());

  it('finds a user, grants a role, disables the account after confirming, and sees both in the audit log', async () => {
    const page = await stack.newPage();
    await page.goto(`${stack.idp.issuer}/admin`);
    await page.getByLabel('Email').fill('admin@example.com');
    await page.getByLabel('Password').fill('admin passphrase 1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Users');
    await stack.checker.check(page, 'users');

    await page.getByRole('searchbox', { name: 'Search' }).fill('sam');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await page.getByRole('link', { name: 'sam@example.com' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('sam@example.com');
    await stack.checker.check(page, 'user');

    await page.getByLabel('Grant role').selectOption('moderator');
    await page.getByRole('button', { name: 'Grant' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe('Role granted');
    await expect.poll(() => page.locator('.roles').innerText()).toContain('moderator');

    await page.getByRole('button', { name: 'Disable' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Are you sure?');
    await stack.checker.check(page, 'confirm');
    await page.getByRole('button', { name: 'Yes, do it' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe('Account disabled');

    await page.getByRole('link', { name: 'Audit log' }).click();
    await expect.poll(() => page.locator('tbody tr td:nth-child(3)').allInnerTexts()).toEqual(expect.arrayContaining(['users.disable', 'users.roles.grant']));
    await stack.checker.check(page, 'audit');

    // Sam can no longer sign in.
    const sam = await stack.newPage();
    await stack.openLogin(sam);
    await submitLogin(sam, { email: 'sam@example.com', password: PASSWORD });
    await expect.poll(() => sam.getByRole('alert').innerText()).toContain('This account is disabled');
  });

  it('has no serious or critical accessibility findings on any page it saw', () => {
    expectNoSeriousAxeFindings(stack.checker);
  });
});
