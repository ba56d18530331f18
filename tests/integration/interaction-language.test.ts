import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { page } from '../support/browser.ts';
import { startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { newBrowser, relyingParty, startAuthorization, submitLogin } from '../support/rp.ts';

const password = 'interaction language password 1';

/** An authorization that asks for German (ui_locales), from a browser that asks for nothing: the password step's next page. */
async function germanPasswordStep(idp: TestIdp, email: string) {
  const config = await relyingParty(idp.issuer, webAppClient);
  const start = await startAuthorization(config, { scope: 'openid', ui_locales: 'de' });
  const browser = newBrowser();
  const login = await browser.open(start.url.href);
  expect(login.$('html').attr('lang')).toBe('de');
  return page(await submitLogin(browser, login, email, password));
}

describe('the language of an interaction carries to its second-factor pages', () => {
  let idp: TestIdp;

  beforeAll(async () => {
    idp = await startTestIdp({ backend: 'pglite', env: { MFA: 'required' } });
    await idp.idp.accounts.createAccount({ email: 'greta@example.com', password, emailVerified: true });
    const enrolled = await idp.idp.accounts.createAccount({ email: 'gustav@example.com', password, emailVerified: true });
    const { secret } = await idp.idp.secondFactors.startTotp(enrolled.id, enrolled.email);
    await idp.idp.secondFactors.confirmTotp(enrolled.id, await generate({ secret }), null);
  });
  afterAll(() => idp?.destroy());

  it('shows the authenticator app setup in German when the authorization asked for German', async () => {
    const setup = await germanPasswordStep(idp, 'greta@example.com');
    expect(setup.url).toMatch(/\/second-factor\/setup$/);
    expect(setup.$('html').attr('lang')).toBe('de');
    expect(setup.$('h1').text()).toBe('Bestätigung in zwei Schritten einrichten');
  });

  it('asks for the code in German when the authorization asked for German', async () => {
    const prompt = await germanPasswordStep(idp, 'gustav@example.com');
    expect(prompt.url).toMatch(/\/second-factor$/);
    expect(prompt.$('html').attr('lang')).toBe('de');
    expect(prompt.$('h1').text()).toBe('Bestätigung in zwei Schritten');
  });
});
