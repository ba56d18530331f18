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
    await expect.poll(() => page.locator('tbody tr td:nth-child(3)').allInnerTexts()).toEqual(expect.arrayContaining(['Account disabled', 'Role granted']));
    await stack.checker.check(page, 'audit');

    // Sam can no longer sign in.
    const sam = await stack.newPage();
    await stack.openLogin(sam);
    await submitLogin(sam, { email: 'sam@example.com', password: PASSWORD });
    await expect.poll(() => sam.getByRole('alert').innerText()).toContain('This account is disabled');
  });

  it('fits a 390 px phone: a menu (a <details>, no script needed), users, clients and audit without sideways scrolling', async () => {
    const page = await stack.newPage({ viewport: { width: 390, height: 844 } });
    page.setDefaultTimeout(20_000);
    await page.goto(`${stack.idp.issuer}/admin`);
    await page.getByLabel('Email').fill('admin@example.com');
    await page.getByLabel('Password').fill('admin passphrase 1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Users');
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth);

    // The sections are folded into a menu; opening it shows them.
    await expect.poll(() => page.getByRole('link', { name: 'Clients' }).isVisible()).toBe(false);
    await page.locator('summary', { hasText: 'Menu' }).click();
    await expect.poll(() => page.getByRole('link', { name: 'Clients' }).isVisible()).toBe(true);
    expect(await overflow()).toBeLessThanOrEqual(390);
    await stack.checker.check(page, 'phone-users');

    await page.getByRole('link', { name: 'Clients' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Client applications');
    await page.getByLabel('Name', { exact: true }).fill('A client with a long name for a small screen');
    await page.getByLabel('Redirect URIs (one per line; https, or http on loopback)').fill('https://a-rather-long-host-name.example.com/some/deep/callback/path?with=query');
    await page.getByRole('button', { name: 'Register' }).click();
    await page.getByRole('link', { name: 'Back to clients' }).click();
    await expect.poll(() => page.locator('code.id').count()).toBeGreaterThan(0);
    expect(await overflow()).toBeLessThanOrEqual(390);
    // An id wraps at most onto a few lines, never one character a line.
    const id = await page.locator('tbody tr:not(.from-file) code.id').first().boundingBox();
    expect(id!.width).toBeGreaterThan(150);
    expect(id!.height).toBeLessThan(80);
    await stack.checker.check(page, 'phone-clients');

    await page.goto(`${stack.idp.issuer}/admin/audit`);
    await expect.poll(() => page.locator('h1').innerText()).toBe('Audit log');
    expect(await overflow()).toBeLessThanOrEqual(390);
    const row = await page.locator('tbody tr').first().boundingBox();
    expect(row!.height).toBeLessThan(400);
    await stack.checker.check(page, 'phone-audit');
  });

  it('has no serious or critical accessibility findings on any page it saw', () => {
    expectNoSeriousAxeFindings(stack.checker);
  });
});
