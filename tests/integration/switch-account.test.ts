import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization, submitLogin } from '../support/rp.ts';

const alice = { email: 'alice@example.com', password: 'correct horse battery staple' };
const bob = { email: 'bob@example.com', password: 'another horse battery staple' };

describe.each(backends)('no dead end for a person signed in to the wrong account (%s)', (backend) => {
  let idp: TestIdp;
  let bobId: string;

  beforeAll(async () => {
    idp = await startTestIdp({ backend });
    await idp.idp.accounts.createAccount({ ...alice, emailVerified: true });
    bobId = (await idp.idp.accounts.createAccount({ ...bob, emailVerified: true })).id;
  });
  afterAll(() => idp?.destroy());

  it('consent "Not you?" signs this browser out and continues the same request with another account', async () => {
    const config = await relyingParty(idp.issuer, webAppClient);
    const browser = newBrowser();
    // Alice has used the app in this browser before: the new request's interaction names her grant.
    await signIn(browser, (await startAuthorization(config)).url, alice);

    const start = await startAuthorization(config, { prompt: 'consent' });
    const consent = await browser.open(start.url.href);
    expect(consent.$('.signed-in-as').text()).toBe(`Signed in as ${alice.email}`);
    expect(consent.$('form.not-you button').text()).toBe('Not you? Use another account');

    const login = await browser.submit(consent, 'form.not-you');
    expect(login.page?.$('form[action$="/login"]').length, login.page?.$('h1').text()).toBe(1);
    expect(login.page?.url).toBe(consent.url);

    // Signed out: the account page no longer knows Alice.
    const account = await browser.fetch(`${idp.issuer}/account`);
    expect(await account.text()).not.toContain(alice.email);

    const bobsConsent = await submitLogin(browser, login.page!, bob.email, bob.password);
    expect(bobsConsent.page?.$('.signed-in-as').text()).toBe(`Signed in as ${bob.email}`);
    const callback = await browser.submit(bobsConsent.page!, 'form[action$="/confirm"]');
    expect(callback.leftTo?.searchParams.get('state')).toBe(start.state);
    const tokens = await exchangeCode(config, callback.leftTo!, start);
    expect(tokens.claims()?.sub).toBe(bobId);
  });
});
