/// <reference lib="dom" />  // callbacks of page.evaluate run in the browser
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { chromiumMissing } from '../support/chromium.ts';
import { descriptionOf, isFocused } from '../support/dom-state.ts';
import { expectNoSeriousAxeFindings, startE2eStack, submitLogin, type E2eStack } from '../support/e2e-stack.ts';
import { tvClient } from '../support/idp.ts';
import { relyingParty } from '../support/rp.ts';

const alice = { email: 'alice@example.com', password: 'correct horse battery staple', name: 'Alice Liddell' };
const bob = { email: 'bob@example.com', password: 'bob passphrase 123', name: 'Bob' };
const kim = { email: 'kim@example.com', password: 'kim passphrase 123', name: 'Kim' };
const lou = { email: 'lou@example.com', password: 'lou passphrase 123' };

describe.skipIf(chromiumMissing())('signing in from a relying party, in Chromium', () => {
  let stack: E2eStack;

  beforeAll(async () => {
    stack = await startE2eStack('sign-in', { env: { LOGIN_MAX_FAILURES: '3' } });
    for (const person of [alice, bob, kim, lou]) await stack.idp.idp.accounts.createAccount({ ...person, emailVerified: true });
  });
  afterAll(() => stack?.close());

  it('signs in with a click, consents, and lands back at the RP signed in; the logo and name of the client are shown', async () => {
    const page = await stack.newPage();
    await stack.openLogin(page);
    await expect(page.title()).resolves.toBe('Sign in · Acme Account');
    await expect.poll(() => page.locator('h1').innerText()).toBe('Sign in');
    await expect.poll(() => page.locator('.lead').innerText()).toContain('Sample Notes');
    await expect.poll(() => page.getByRole('img', { name: 'Sample Notes' }).isVisible()).toBe(true);
    expect(await page.getByRole('img', { name: 'Sample Notes' }).evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
    await stack.checker.check(page, 'login');

    await page.getByLabel('Email').fill(alice.email);
    await page.getByLabel('Password').fill(alice.password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await expect.poll(() => page.locator('h1').innerText()).toBe('Allow access?');
    await expect.poll(() => page.getByRole('img', { name: 'Sample Notes' }).isVisible()).toBe(true);
    await expect.poll(() => page.locator('.scopes li').allInnerTexts()).toEqual(['Know who you are', 'See your email address', 'See your name, picture, language and time zone']);
    await stack.checker.check(page, 'consent');
    await page.getByRole('button', { name: 'Allow' }).click();

    await page.waitForURL(`${stack.rp.origin}/`);
    await expect.poll(() => page.locator('#user-email').innerText()).toBe(alice.email);
    await expect.poll(() => page.locator('#user-name').innerText()).toBe(alice.name);
  });

  it('denies consent: the RP is told access_denied and nobody is signed in', async () => {
    const page = await stack.newPage();
    await stack.openLogin(page);
    await submitLogin(page, bob);
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL(`${stack.rp.origin}/`);
    await expect.poll(() => page.locator('#rp-error').innerText()).toContain('access_denied');
    await expect.poll(() => page.locator('#signed-out').isVisible()).toBe(true);
  });

  it('announces errors: a summary in an alert, each field marked invalid and described by its message', async () => {
    const page = await stack.newPage();
    await stack.openLogin(page);
    await page.getByRole('button', { name: 'Sign in' }).click();

    const alert = page.getByRole('alert');
    await expect.poll(() => alert.innerText()).toContain('Enter your email address.');
    await expect.poll(() => alert.innerText()).toContain('Enter your password.');
    const email = page.getByLabel('Email');
    await expect.poll(() => email.getAttribute('aria-invalid')).toBe('true');
    await expect.poll(() => descriptionOf(email)).toBe('Enter your email address.');
    await expect.poll(() => descriptionOf(page.getByLabel('Password'))).toBe('Enter your password.');
    await expect.poll(() => isFocused(email)).toBe(true);
    await stack.checker.check(page, 'login-field-errors');

    // A link of the summary takes the person to the field.
    await alert.getByRole('link', { name: 'Enter your password.' }).click();
    await expect.poll(() => page.url()).toMatch(/#password$/);

    await email.fill(bob.email);
    await page.getByLabel('Password').fill('not his password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toBe('Wrong email or password.');
    await stack.checker.check(page, 'login-wrong-password');
  });

  it('shows the lockout message after too many failures', async () => {
    const page = await stack.newPage();
    await stack.openLogin(page);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      await submitLogin(page, { email: kim.email, password: `wrong guess ${attempt}` });
      await page.waitForLoadState();
    }
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('Too many failed sign-ins for this email. Try again in 15 minutes, or reset your password.');
    await expect.poll(() => page.getByLabel('Email').inputValue()).toBe(kim.email);
    await stack.checker.check(page, 'login-locked');
  });

  it('signs in with the keyboard alone, with a visible focus at each step', async () => {
    const page = await stack.newPage();
    await stack.openLogin(page);
    const focusOutline = () => page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);

    // The email field has the focus when the page opens.
    await expect.poll(() => isFocused(page.getByLabel('Email'))).toBe(true);
    await page.keyboard.type(lou.email);
    await page.keyboard.press('Tab');
    await expect.poll(() => isFocused(page.getByLabel('Password'))).toBe(true);
    expect(await focusOutline()).not.toBe('none');
    await page.keyboard.type(lou.password);
    await page.keyboard.press('Tab');
    await expect.poll(() => isFocused(page.getByRole('button', { name: 'Sign in' }))).toBe(true);
    expect(await focusOutline()).not.toBe('none');
    await page.keyboard.press('Enter');

    await expect.poll(() => page.locator('h1').innerText()).toBe('Allow access?');
    await expect.poll(() => isFocused(page.getByRole('button', { name: 'Allow' }))).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${stack.rp.origin}/`);
    await expect.poll(() => page.locator('#user-email').innerText()).toBe(lou.email);
  });

  it('signs in with JavaScript disabled', async () => {
    const page = await stack.newPage({ javaScriptEnabled: false });
    await stack.signInAs(page, alice);
    await expect.poll(() => page.locator('#user-email').innerText()).toBe(alice.email);
  });

  it('speaks German when the browser or the RP (ui_locales) asks for it', async () => {
    const german = await stack.newPage({ locale: 'de-DE' });
    await stack.openLogin(german);
    await expect.poll(() => german.locator('html').getAttribute('lang')).toBe('de');
    await expect.poll(() => german.locator('h1').innerText()).toBe('Anmelden');
    await german.getByRole('button', { name: 'Anmelden' }).click();
    await expect.poll(() => german.getByRole('alert').innerText()).toContain('Geben Sie Ihre E-Mail-Adresse ein.');
    await stack.checker.check(german, 'login-de-errors');
    await german.getByLabel('E-Mail').fill(alice.email);
    await german.getByLabel('Passwort').fill(alice.password);
    await german.getByRole('button', { name: 'Anmelden' }).click();
    await expect.poll(() => german.locator('h1').innerText()).toBe('Zugriff erlauben?');
    await stack.checker.check(german, 'consent-de');

    // An English browser, but the RP asks for German first.
    const english = await stack.newPage();
    await stack.openLogin(english, 'ui_locales=de-AT%20en');
    await expect.poll(() => english.locator('h1').innerText()).toBe('Anmelden');
    await expect.poll(() => english.getByRole('link', { name: 'Passwort vergessen?' }).isVisible()).toBe(true);
  });

  it('signs out from the RP: the IdP asks, ends its session, and returns to the RP', async () => {
    const page = await stack.newPage();
    await stack.signInAs(page, alice);

    await page.getByRole('link', { name: 'Sign out' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toContain('Sign out of');
    await stack.checker.check(page, 'logout-confirm');
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL(`${stack.rp.origin}/logged-out`);
    await expect.poll(() => page.locator('#signed-out').isVisible()).toBe(true);

    // The IdP forgot her: signing in again asks for the password.
    await page.getByRole('link', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Sign in');
  });

  it('connects a device: the code is entered, the person signs in and allows, the device gets tokens', async () => {
    const tv = await relyingParty(stack.idp.issuer, tvClient);
    const device = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid email' });

    const page = await stack.newPage();
    await page.goto(device.verification_uri);
    await expect.poll(() => page.locator('h1').innerText()).toBe('Connect a device');
    await stack.checker.check(page, 'device-code');
    await page.getByLabel('Code').fill('BCDF-GHJK');
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toBe('That code is not right. Check it and try again.');
    await expect.poll(() => page.getByLabel('Code').getAttribute('aria-invalid')).toBe('true');
    await stack.checker.check(page, 'device-code-wrong');

    await page.getByLabel('Code').fill(device.user_code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Is this your device?');
    await expect.poll(() => page.locator('.user-code').innerText()).toBe(device.user_code);
    await expect.poll(() => page.locator('.scopes').innerText()).toContain('See your email address');
    await stack.checker.check(page, 'device-confirm');
    await page.getByRole('button', { name: 'Allow' }).click();

    await submitLogin(page, bob);
    await expect.poll(() => page.locator('.lead').innerText()).toContain('Living Room TV');
    await page.getByRole('button', { name: 'Allow' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Your device is connected');
    await stack.checker.check(page, 'device-success');

    const tokens = await oidc.genericGrantRequest(tv, 'urn:ietf:params:oauth:grant-type:device_code', { device_code: device.device_code });
    expect(tokens.access_token).toBeTruthy();
  });

  it('answers mistakes and endings with readable pages: not found, expired, a refused request, signed out', async () => {
    const page = await stack.newPage();
    await page.goto(`${stack.idp.issuer}/nowhere`);
    await expect.poll(() => page.locator('h1').innerText()).toBe('Page not found');
    await stack.checker.check(page, 'not-found');

    await page.goto(`${stack.idp.issuer}/interaction/no-such-interaction`);
    await expect.poll(() => page.locator('h1').innerText()).toBe('This sign-in has expired');
    await stack.checker.check(page, 'interaction-expired');

    await page.goto(`${stack.idp.issuer}/auth?client_id=nobody&response_type=code&scope=openid`);
    await expect.poll(() => page.locator('h1').innerText()).toBe('Sign-in could not continue');
    await page.getByText("Details for the application's developers").click();
    await expect.poll(() => page.locator('details code').innerText()).toBe('invalid_client');
    await stack.checker.check(page, 'oauth-error');

    // Signed in at the IdP, then signing out there directly: its own signed-out page.
    await stack.signInAs(page, bob);
    await page.goto(`${stack.idp.issuer}/session/end`);
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('You are signed out');
    await stack.checker.check(page, 'logged-out');
  });

  it('has no serious or critical accessibility findings on any page it saw', () => {
    expectNoSeriousAxeFindings(stack.checker);
  });
});
