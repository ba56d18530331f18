import * as oidc from 'openid-client';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Browser, type Page } from '../support/browser.ts';
import { adminCliClient, backends, startTestIdp, type TestIdp, tvClient } from '../support/idp.ts';
import { newBrowser, relyingParty, submitLogin } from '../support/rp.ts';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const admin = { email: 'ada@example.com', password: 'ada lovelace password' };

/** Issue 15 (items 4 and 7): what the device asks for is shown, admin access needs the second factor, and the flow has limits. */
describe.each(backends)('device flow (%s)', (backend) => {
  let idp: TestIdp;
  let adminApi: string;
  let adminId: string;

  const poll = async (client: oidc.Configuration, deviceCode: string) => oidc.genericGrantRequest(client, DEVICE_GRANT, { device_code: deviceCode });

  /** Opens the code page in `browser` and types `userCode`. */
  async function typeCode(browser: Browser, verificationUri: string, userCode: string) {
    const codePage = await browser.open(verificationUri);
    return browser.submit(codePage, 'form', { user_code: userCode });
  }

  beforeAll(async () => {
    idp = await startTestIdp({ backend });
    adminApi = `${idp.issuer}/admin/api`;
    adminId = (await idp.idp.accounts.createAccount({ ...admin, name: 'Ada', roles: ['admin'], emailVerified: true })).id;
  });
  afterAll(async () => idp?.destroy());

  it('the confirm page names the client, the scopes and the API in words, and Deny tells the device access_denied', async () => {
    const cli = await relyingParty(idp.issuer, adminCliClient);
    const device = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid admin offline_access', resource: adminApi });
    const browser = newBrowser();
    const confirm = (await typeCode(browser, device.verification_uri, device.user_code)).page!;
    expect(confirm.$('h1').text()).toBe('Is this your device?');
    expect(confirm.$('.lead').text()).toContain('Admin CLI');
    const asked = confirm.$('.scopes li').map((_i, element) => confirm.$(element).text()).get();
    expect(asked).toEqual(['Know who you are', 'Stay connected when you are not using it', 'Use Admin API on your behalf: admin']);
    expect(confirm.$('form:has(input[name=confirm]) button').text()).toBe('Allow');
    expect(confirm.$('form:has(input[name=abort]) button').text()).toBe('Deny');

    const denied = (await browser.submit(confirm, 'form:has(input[name=abort])')).page!;
    expect(denied.$('[role=alert]').text()).toContain('You cancelled the sign-in');
    await expect(poll(cli, device.device_code)).rejects.toMatchObject({ error: 'access_denied' });
  });

  it('the confirm page is in German for a German browser', async () => {
    const tv = await relyingParty(idp.issuer, tvClient);
    const device = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid email' });
    const browser = newBrowser();
    browser.acceptLanguage = 'de';
    const confirm = (await typeCode(browser, device.verification_uri, device.user_code)).page!;
    expect(confirm.$('.scopes li').first().text()).not.toBe('Know who you are');
    expect(confirm.$('form:has(input[name=confirm]) button').text()).toBe('Erlauben');
    expect(confirm.$('form:has(input[name=abort]) button').text()).toBe('Ablehnen');
  });

  it('admin access through the device flow needs the second factor, even in a session signed in with one', async () => {
    // Ada signs in once with her password alone (no second factor yet), connecting a TV.
    const browser = newBrowser();
    const tv = await relyingParty(idp.issuer, tvClient);
    const first = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const login = (await browser.submit((await typeCode(browser, first.verification_uri, first.user_code)).page!, 'form:has(input[name=confirm])')).page!;
    const consent = (await submitLogin(browser, login, admin.email, admin.password)).page!;
    expect((await browser.submit(consent, 'form[action$="/confirm"]')).page!.$('h1').text()).toBe('Your device is connected');

    // Then she sets up an authenticator app.
    const { secret } = await idp.idp.secondFactors.startTotp(adminId, admin.email);
    await idp.idp.secondFactors.confirmTotp(adminId, await idp.idp.secondFactors.currentCode(secret), null);

    // A phished code for admin-cli: her one-factor session is not enough.
    const cli = await relyingParty(idp.issuer, adminCliClient);
    const device = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid admin', resource: adminApi });
    const confirm = (await typeCode(browser, device.verification_uri, device.user_code)).page!;
    const step = (await browser.submit(confirm, 'form:has(input[name=confirm])')).page!;
    expect(step.$('h1').text()).not.toBe('Your device is connected');
    expect(step.$('form[action$="/second-factor"]').length).toBe(1);
    await expect(poll(cli, device.device_code)).rejects.toMatchObject({ error: 'authorization_pending' });

    // The next step's code: the one that confirmed the app cannot be used twice.
    const code = await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });
    let done = (await browser.submit(step, 'form[action$="/second-factor"]', { code })).page!;
    // Where the admin API always asks for consent, allow it.
    if (done.$('form[action$="/confirm"]').length) done = (await browser.submit(done, 'form[action$="/confirm"]')).page!;
    expect(done.$('h1').text()).toBe('Your device is connected');
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const tokens = await poll(cli, device.device_code);
    const me = await fetch(`${adminApi}/users?per_page=1`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(me.status).toBe(200);
  });

  it('a device that polls faster than its interval is told slow_down', async () => {
    const tv = await relyingParty(idp.issuer, tvClient);
    const response = await fetch(`${idp.issuer}/device/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: tvClient.client_id, scope: 'openid' }).toString(),
    });
    const device = (await response.json()) as { device_code: string; interval: number };
    expect(device.interval).toBe(5);
    await expect(poll(tv, device.device_code)).rejects.toMatchObject({ error: 'authorization_pending' });
    await expect(poll(tv, device.device_code)).rejects.toMatchObject({ error: 'slow_down' });
    await new Promise((resolve) => setTimeout(resolve, 5100));
    await expect(poll(tv, device.device_code)).rejects.toMatchObject({ error: 'authorization_pending' });
  });

  it('wrong user codes are limited per browser session: after five, even the right code is not looked up', async () => {
    const tv = await relyingParty(idp.issuer, tvClient);
    const device = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const browser = newBrowser();
    let page: Page = await browser.open(device.verification_uri);
    for (let i = 0; i < 5; i += 1) {
      page = (await browser.submit(page, 'form', { user_code: 'BCDF-GHJK' })).page!;
      expect(page.status).toBe(400);
    }
    const refused = (await browser.submit(page, 'form', { user_code: device.user_code })).page!;
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    expect(refused.$('p').first().text()).toContain('Too many wrong codes');
    expect(refused.html).not.toContain('Is this your device?');
  });

  it('wrong user codes are limited per address, whatever the session (runs last: it locks this address)', async () => {
    const tv = await relyingParty(idp.issuer, tvClient);
    const device = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    let status = 0;
    let sessions = 0;
    // Each guesser starts a new session and stays under the session limit.
    for (; sessions < 10 && status !== 429; sessions += 1) {
      const browser = newBrowser();
      let page: Page = await browser.open(device.verification_uri);
      for (let i = 0; i < 4 && status !== 429; i += 1) {
        page = (await browser.submit(page, 'form', { user_code: 'BCDF-GHJK' })).page!;
        status = page.status;
      }
    }
    expect(status).toBe(429);
    const fresh = newBrowser();
    const refused = (await typeCode(fresh, device.verification_uri, device.user_code)).page!;
    expect(refused.status).toBe(429);
  });
});
