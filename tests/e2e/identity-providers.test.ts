import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { chromiumMissing } from '../support/chromium.ts';
import { type E2eStack, expectNoSeriousAxeFindings, startE2eStack } from '../support/e2e-stack.ts';
import { type FakeGithub, startFakeGithub } from '../support/fake-github.ts';
import { type FakeOidc, startFakeOidc } from '../support/fake-oidc.ts';

describe.skipIf(chromiumMissing())('signing in with a company OpenID provider and with GitHub (fakes), in Chromium', () => {
  let stack: E2eStack;
  let acme: FakeOidc;
  let github: FakeGithub;
  const file = path.join(tmpdir(), `e2e-providers-${process.pid}.json`);

  beforeAll(async () => {
    acme = await startFakeOidc({ clientId: 'idp-at-acme', clientSecret: 'acme-secret-0123456789', cookiePrefix: 'acme' });
    github = await startFakeGithub();
    writeFileSync(
      file,
      JSON.stringify([
        { id: 'acme', name: 'Acme SSO', type: 'oidc', issuer: acme.issuer, client_id: acme.clientId, client_secret: acme.clientSecret, domains: ['acme.test'] },
        { id: 'github', name: 'GitHub', type: 'github', client_id: github.clientId, client_secret: github.clientSecret, github_url: github.githubUrl, api_url: github.apiUrl },
      ]),
    );
    stack = await startE2eStack('identity-providers', { env: { IDENTITY_PROVIDERS_FILE: file } });
    acme.register(`${stack.idp.issuer}/interaction/callback/acme`);
  });
  afterAll(async () => {
    await stack?.close();
    await Promise.allSettled([acme?.stop(), github?.stop()]);
    rmSync(file, { force: true });
  });

  it('types a company address and is sent straight to its provider, then lands at the RP', async () => {
    acme.addAccount('acme-zoe', { email: 'zoe@acme.test', email_verified: true, name: 'Zoe Acme' });
    acme.signInAs('acme-zoe');
    const page = await stack.newPage();
    await stack.openLogin(page);
    await stack.checker.check(page, 'login-with-providers');
    await page.getByLabel('Email').fill('zoe@acme.test');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await stack.allowIfAsked(page);
    await expect.poll(() => page.locator('#user-email').innerText()).toBe('zoe@acme.test');
    await expect.poll(() => page.locator('#user-name').innerText()).toBe('Zoe Acme');
  });

  it('continues with GitHub, and the account page shows the GitHub link', async () => {
    github.addUser({ id: 7001, login: 'yan', name: 'Yan Hub', emails: [{ email: 'yan@example.org', primary: true, verified: true }] });
    github.signInAs(7001);
    const page = await stack.newPage();
    await stack.openLogin(page);
    await page.getByRole('button', { name: 'Continue with GitHub' }).click();
    await stack.allowIfAsked(page);
    await expect.poll(() => page.locator('#user-email').innerText()).toBe('yan@example.org');

    await page.goto(`${stack.idp.issuer}/account/security`);
    await expect.poll(() => page.locator('.github-email').innerText()).toBe('yan@example.org');
    await stack.checker.check(page, 'account-with-providers');
  });

  it('says so when the person cancels at GitHub', async () => {
    const page = await stack.newPage();
    await stack.openLogin(page);
    github.denyNext();
    await page.getByRole('button', { name: 'Continue with GitHub' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toBe('GitHub sign-in was cancelled.');
  });

  it('has no serious or critical accessibility findings on any page it saw', () => {
    expectNoSeriousAxeFindings(stack.checker);
  });
});
