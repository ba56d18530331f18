import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { chromiumMissing } from '../support/chromium.ts';
import { type E2eStack, expectNoSeriousAxeFindings, startE2eStack, submitLogin } from '../support/e2e-stack.ts';
import { linkIn } from '../support/smtp.ts';

const jane = { email: 'jane@example.com', password: 'a fresh passphrase 42', name: 'Jane Doe' };
const mia = { email: 'mia@example.com', password: 'mia old passphrase', name: 'Mia' };
const miasNewPassword = 'mia new passphrase';

describe.skipIf(chromiumMissing())('registration and password reset through mail, in Chromium', () => {
  let stack: E2eStack;

  beforeAll(async () => {
    stack = await startE2eStack('account-lifecycle');
    await stack.idp.idp.accounts.createAccount({ ...mia, emailVerified: true });
  });
  afterAll(() => stack?.close());

  it('registers, opens the mail, verifies, and lands back at the RP signed in without typing the password again', async () => {
    const page = await stack.newPage();
    await page.goto(stack.rp.origin);
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Create an account' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Create an account');
    await stack.checker.check(page, 'register');

    // A mistake first: the passwords differ.
    await page.getByLabel('Email').fill(jane.email);
    await page.getByLabel('Name').fill(jane.name);
    await page.getByLabel('Password', { exact: true }).fill(jane.password);
    await page.getByLabel('Password again').fill('a fresh passphrase 43');
    await page.getByRole('button', { name: 'Create account' }).click();
    // A single mistake is said once, at its field.
    await expect.poll(() => page.locator('#password_confirmation-error').innerText()).toBe('The two passwords differ.');
    await expect.poll(() => page.getByLabel('Password again').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.error-summary').count()).toBe(0);
    await stack.checker.check(page, 'register-errors');

    await page.getByLabel('Password', { exact: true }).fill(jane.password);
    await page.getByLabel('Password again').fill(jane.password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Almost done: confirm your email');
    await expect.poll(() => page.getByRole('button', { name: 'Send the link again' }).isVisible()).toBe(true);
    await stack.checker.check(page, 'check-email');

    const mail = await stack.smtp.waitFor(jane.email, /Confirm your email address/);
    await page.goto(linkIn(mail, '/account/verify-email?token='));
    await expect.poll(() => page.locator('h1').innerText()).toBe('Confirm your email');
    await stack.checker.check(page, 'verify-email');
    // Confirmed in the browser that registered: straight on to the app.
    await page.getByRole('button', { name: 'Confirm my email' }).click();
    await stack.allowIfAsked(page);
    await expect.poll(() => page.locator('#user-email').innerText()).toBe(jane.email);
    await expect.poll(() => page.locator('#user-name').innerText()).toBe(jane.name);
  });

  it('confirmed on a phone, sends the phone back to the window that registered, which continues with its button', async () => {
    const noor = { email: 'noor@example.com', password: 'noor passphrase 42' };
    const page = await stack.newPage();
    await stack.openLogin(page);
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill(noor.email);
    await page.getByLabel('Password', { exact: true }).fill(noor.password);
    await page.getByLabel('Password again').fill(noor.password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Almost done: confirm your email');

    const phone = await stack.newPage({ viewport: { width: 390, height: 844 } });
    await phone.goto(linkIn(await stack.smtp.waitFor(noor.email, /Confirm your email address/), '/account/verify-email?token='));
    await phone.getByRole('button', { name: 'Confirm my email' }).click();
    await expect.poll(() => phone.locator('h1').innerText()).toBe('Email confirmed');
    await expect.poll(() => phone.locator('main').innerText()).toContain('go back to the window where you started');
    await stack.checker.check(phone, 'email-verified');

    await page.getByRole('button', { name: 'I have confirmed my email, continue' }).click();
    await stack.allowIfAsked(page);
    await expect.poll(() => page.locator('#user-email').innerText()).toBe(noor.email);
  });

  it('resets a forgotten password from the mail, and the sessions signed in before are gone', async () => {
    // Mia is signed in on one browser...
    const before = await stack.newPage();
    await stack.signInAs(before, mia);

    // ...and forgot her password on another.
    const page = await stack.newPage();
    await page.goto(`${stack.rp.origin}/login`);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Reset your password');
    await stack.checker.check(page, 'forgot-password');
    await page.getByLabel('Email').fill(mia.email);
    await page.getByRole('button', { name: 'Send the link' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Check your email');
    await stack.checker.check(page, 'check-email-reset');

    const link = linkIn(await stack.smtp.waitFor(mia.email, /Reset your password/), '/account/reset-password?token=');
    await page.goto(link);
    await expect.poll(() => page.locator('h1').innerText()).toBe('Choose a new password');
    await stack.checker.check(page, 'reset-password');
    await page.getByLabel('New password', { exact: true }).fill('password1');
    await page.getByLabel('New password again').fill('password1');
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => page.locator('#password-error').innerText()).toContain('most common');
    await stack.checker.check(page, 'reset-password-weak');
    await page.getByLabel('New password', { exact: true }).fill(miasNewPassword);
    await page.getByLabel('New password again').fill(miasNewPassword);
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Your password was changed');
    await stack.checker.check(page, 'password-changed');

    // The used link is dead.
    await page.goto(link);
    await expect.poll(() => page.locator('h1').innerText()).toBe('This link no longer works');
    await stack.checker.check(page, 'invalid-link');

    // The other browser's IdP session is gone: signing in again asks for the (new) password.
    // Still signed in at the RP, she starts a new sign-in there.
    await before.goto(`${stack.rp.origin}/login`);
    await expect.poll(() => before.locator('h1').innerText()).toBe('Sign in');
    await submitLogin(before, { ...mia, password: miasNewPassword });
    await stack.allowIfAsked(before);
    await expect.poll(() => before.locator('#user-email').innerText()).toBe(mia.email);
  });

  it('offers on the reset page to keep each passkey and linked account, unticked; only what is ticked stays', async () => {
    const lena = await stack.idp.idp.accounts.createAccount({ email: 'lena@example.com', password: 'lena old passphrase', emailVerified: true });
    const db = stack.idp.idp.database.db;
    for (const [id, name] of [['bGVuYS1sYXB0b3A', 'Work laptop'], ['dW5rbm93bi1rZXk', 'Unknown key']] as const) {
      await db.insertInto('webauthn_credentials').values({ id, account_id: lena.id, public_key: 'cHVibGlj', name }).execute();
    }
    await db.insertInto('federated_identities').values({ provider: 'google', subject: 'g-lena', account_id: lena.id, email: 'someone@gmail.test' }).execute();

    const page = await stack.newPage();
    await page.goto(`${stack.idp.issuer}/account/forgot-password`);
    await page.getByLabel('Email').fill('lena@example.com');
    await page.getByRole('button', { name: 'Send the link' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Check your email');
    await page.goto(linkIn(await stack.smtp.waitFor('lena@example.com', /Reset your password/), '/account/reset-password?token='));
    await expect.poll(() => page.getByRole('group', { name: 'Other ways to sign in' }).isVisible()).toBe(true);
    await stack.checker.check(page, 'reset-password-keep');
    const laptop = page.getByLabel(/Keep the passkey “Work laptop”/);
    expect(await laptop.isChecked()).toBe(false);
    expect(await page.getByLabel(/Keep signing in with Google \(someone@gmail\.test\)/).isChecked()).toBe(false);
    await laptop.check();
    await page.getByLabel('New password', { exact: true }).fill('lena new passphrase');
    await page.getByLabel('New password again').fill('lena new passphrase');
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Your password was changed');

    expect(await db.selectFrom('webauthn_credentials').select('name').where('account_id', '=', lena.id).execute()).toEqual([{ name: 'Work laptop' }]);
    expect(await db.selectFrom('federated_identities').select('subject').where('account_id', '=', lena.id).execute()).toEqual([]);
  });

  it('has no serious or critical accessibility findings on any page it saw', () => {
    expectNoSeriousAxeFindings(stack.checker);
  });
});
