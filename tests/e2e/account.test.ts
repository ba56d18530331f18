/// <reference lib="dom" />  // callbacks of page.evaluate run in the browser
import { generate } from 'otplib';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { chromiumMissing } from '../support/chromium.ts';
import { descriptionOf } from '../support/dom-state.ts';
import { expectNoSeriousAxeFindings, startE2eStack, submitLogin, type E2eStack } from '../support/e2e-stack.ts';
import { linkIn } from '../support/smtp.ts';

const nora = { email: 'nora@example.com', password: 'nora passphrase 123', name: 'Nora' };
const otto = { email: 'otto@example.com', password: 'otto passphrase 123', name: 'Otto' };
const ada = { email: 'ada@example.com', password: 'ada passphrase 123', name: 'Ada Admin' };

describe.skipIf(chromiumMissing())('the account page and the second sign-in step, in Chromium', () => {
  let stack: E2eStack;

  beforeAll(async () => {
    stack = await startE2eStack('account', { env: { MFA: 'required-for-admins' } });
    for (const person of [nora, otto]) await stack.idp.idp.accounts.createAccount({ ...person, emailVerified: true });
    await stack.idp.idp.accounts.createAccount({ ...ada, roles: ['admin'], emailVerified: true });
  });
  afterAll(() => stack?.close());

  const region = (page: Page, name: string) => page.getByRole('region', { name });

  it('edits the profile, sets up an authenticator app, passes the second step, ends another session and deletes the account', async () => {
    // Nora is also signed in on her phone.
    const phone = await stack.newPage({ viewport: { width: 360, height: 740 } });
    await stack.signInAs(phone, nora);

    const page = await stack.newPage();
    await stack.signInAs(page, nora);
    await page.goto(`${stack.idp.issuer}/account`);
    await expect.poll(() => page.locator('h1').innerText()).toBe('Your account');
    await stack.checker.check(page, 'account');

    // A picture address that is not one: announced, and tied to its field.
    const profile = region(page, 'Profile');
    await profile.getByLabel('Name', { exact: true }).fill('Nora Example');
    await profile.getByLabel('Picture URL').fill('not a url');
    await profile.getByRole('button', { name: 'Save profile' }).click();
    // One error, said once: at its field (no summary above the form repeating it).
    const picture = page.getByLabel('Picture URL');
    await expect.poll(() => picture.getAttribute('aria-invalid')).toBe('true');
    await expect.poll(() => descriptionOf(picture)).toContain('Enter an http or https address of an image.');
    expect(await page.locator('.error-summary').count()).toBe(0);
    await expect.poll(() => page.getByLabel('Name', { exact: true }).inputValue()).toBe('Nora Example');
    await stack.checker.check(page, 'account-profile-errors');

    await picture.fill('https://example.com/nora.png');
    await page.getByRole('combobox', { name: 'Language' }).selectOption('de');
    await page.getByLabel('Time zone').selectOption('Europe/Zurich');
    await region(page, 'Profile').getByRole('button', { name: 'Save profile' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe('Your profile is saved.');
    await expect.poll(() => page.locator('.account-person').innerText()).toContain('Nora Example');

    // The authenticator app, chosen freely from the security page: the key from the page, the code it would show.
    await page.getByRole('navigation', { name: 'Account pages' }).getByRole('link', { name: 'Security' }).click();
    await page.getByRole('link', { name: 'Set up an authenticator app' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Add an authenticator app');
    await expect.poll(() => page.getByRole('link', { name: 'Cancel' }).getAttribute('href')).toBe('/account/security');
    await expect.poll(() => page.getByRole('img', { name: 'QR code for your authenticator app' }).isVisible()).toBe(true);
    await stack.checker.check(page, 'account-two-step-setup');
    const secret = await page.locator('code.secret').innerText();
    await page.getByLabel('Code from the app').fill('000000');
    await page.getByRole('button', { name: 'Turn on' }).click();
    // One mistake is said once, at its field.
    await expect.poll(() => page.locator('#code-error').innerText()).toContain('That code is not right');
    expect(await page.locator('.error-summary').count()).toBe(0);
    await expect.poll(() => descriptionOf(page.getByLabel('Code from the app'))).toContain('That code is not right');
    await stack.checker.check(page, 'account-two-step-setup-wrong');
    await page.getByLabel('Code from the app').fill(await generate({ secret }));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Save your recovery codes');
    await expect.poll(() => page.locator('.recovery-codes code').count()).toBe(10);
    await stack.checker.check(page, 'account-recovery-codes');
    await page.getByRole('button', { name: 'I have saved them, continue' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe('Two-step verification is on.');
    await expect.poll(() => region(page, 'Sign-in methods').innerText()).toContain('10 recovery codes left');
    await stack.checker.check(page, 'account-two-step-on');

    // Signed out at the RP; signing in again asks for the second step.
    await page.goto(stack.rp.origin);
    await page.getByRole('link', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL(`${stack.rp.origin}/logged-out`);
    await stack.openLogin(page);
    await submitLogin(page, nora);
    await expect.poll(() => page.locator('h1').innerText()).toBe('Two-step verification');
    await stack.checker.check(page, 'second-factor');
    await page.getByLabel('Code').fill('123456');
    await page.getByRole('button', { name: 'Verify' }).click();
    // One mistake is said once, at its field.
    await expect.poll(() => page.locator('#code-error').innerText()).toContain('That code is not right');
    expect(await page.locator('.error-summary').count()).toBe(0);
    await expect.poll(() => page.getByLabel('Code').getAttribute('aria-invalid')).toBe('true');
    await stack.checker.check(page, 'second-factor-wrong');
    // The code of the next 30-second step: the one used at setup may not be used twice, and the IdP allows one step of clock drift.
    await page.getByLabel('Code').fill(await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }));
    await page.getByRole('button', { name: 'Verify' }).click();
    await stack.allowIfAsked(page);
    await expect.poll(() => page.locator('#user-email').innerText()).toBe(nora.email);

    // The phone's session, ended from here: the phone is signed out at the IdP.
    await page.goto(`${stack.idp.issuer}/account/devices`);
    const sessions = region(page, 'Where you are signed in');
    await expect.poll(() => sessions.locator('.session').count()).toBe(2);
    await sessions.locator('.session').filter({ hasNot: page.locator('.badge') }).getByRole('button', { name: 'Sign out this device' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe('That device is signed out.');
    await expect.poll(() => region(page, 'Where you are signed in').locator('.session').count()).toBe(1);
    await phone.goto(`${stack.idp.issuer}/account`);
    await expect.poll(() => phone.locator('h1').innerText()).not.toBe('Your account');
    await stack.checker.check(page, 'account-session-ended');

    // Deleting needs a recent sign-in (Nora just signed in again): no password to type.
    await page.goto(`${stack.idp.issuer}/account/delete`);
    await region(page, 'Delete account').getByRole('button', { name: 'Delete my account' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Your account is deleted');
    await stack.checker.check(page, 'account-deleted');

    const later = await stack.newPage();
    await stack.openLogin(later);
    await submitLogin(later, nora);
    await expect.poll(() => later.getByRole('alert').innerText()).toContain('Wrong email or password');
  }, 180_000);

  it('changes the email address through the confirmation page the mail links to', async () => {
    const page = await stack.newPage();
    await stack.signInAs(page, otto);
    await page.goto(`${stack.idp.issuer}/account/security`);
    const email = region(page, 'Email address');
    await email.getByLabel('New email address').fill('otto.new@example.com');
    await email.getByRole('button', { name: 'Change email address' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toContain('Check the new address');

    const mail = await stack.smtp.waitFor('otto.new@example.com', /Confirm your new email address/);
    await page.goto(linkIn(mail, '/account/confirm-email?token='));
    await expect.poll(() => page.locator('h1').innerText()).toBe('Confirm your new email address');
    await stack.checker.check(page, 'confirm-email-change');
    await page.getByRole('button', { name: 'Confirm the new address' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Email confirmed');
    await page.goto(`${stack.idp.issuer}/account/security`);
    await expect.poll(() => region(page, 'Email address').innerText()).toContain('otto.new@example.com');
  });

  it('makes an admin set up the app at sign-in, shows the recovery codes, and continues to the RP', async () => {
    const page = await stack.newPage({ viewport: { width: 360, height: 740 } });
    await stack.openLogin(page);
    await submitLogin(page, ada);
    await expect.poll(() => page.locator('h1').innerText()).toBe('Set up two-step verification');
    await expect.poll(() => page.getByRole('link', { name: 'Cancel' }).count()).toBe(0);
    await stack.checker.check(page, 'second-factor-setup');
    const secret = await page.locator('code.secret').innerText();
    await page.getByLabel('Code from the app').fill(await generate({ secret }));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Save your recovery codes');
    await stack.checker.check(page, 'second-factor-recovery-codes');
    await page.getByRole('button', { name: 'I have saved them, continue' }).click();
    await stack.allowIfAsked(page);
    await expect.poll(() => page.locator('#user-email').innerText()).toBe(ada.email);
  });

  it('shows the account page in German to a German browser', async () => {
    const page = await stack.newPage({ locale: 'de-DE' });
    await stack.signInAs(page, { email: 'otto.new@example.com', password: otto.password });
    await page.goto(`${stack.idp.issuer}/account`);
    await expect.poll(() => page.locator('html').getAttribute('lang')).toBe('de');
    await stack.checker.check(page, 'account-de');
  });

  it('moves between the account pages by the header navigation on a 390 px phone, each page fitting the screen', async () => {
    const page = await stack.newPage({ viewport: { width: 390, height: 844 } });
    await stack.signInAs(page, { email: 'otto.new@example.com', password: otto.password });
    await page.goto(`${stack.idp.issuer}/account`);
    const nav = page.getByRole('navigation', { name: 'Account pages' });
    const pages = [
      ['Security', '/account/security'],
      ['Devices and apps', '/account/devices'],
      ['Activity', '/account/activity'],
      ['Delete account', '/account/delete'],
      ['Profile', '/account'],
    ] as const;
    for (const [name, path] of pages) {
      await nav.getByRole('link', { name }).click();
      await page.waitForURL(`${stack.idp.issuer}${path}`);
      await expect.poll(() => nav.locator('[aria-current="page"]').innerText()).toBe(name);
      await expect.poll(() => page.locator('.account-header a.sign-out').isVisible()).toBe(true);
      await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await stack.checker.check(page, `account-page-${name.toLowerCase().replaceAll(' ', '-')}`);
    }
    await page.locator('.account-header').getByRole('link', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Yes, sign me out' }).isVisible()).toBe(true);
  });

  it('has no serious or critical accessibility findings on any page it saw', () => {
    expectNoSeriousAxeFindings(stack.checker);
  });
});
