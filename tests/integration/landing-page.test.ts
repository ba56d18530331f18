import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Browser } from '../support/browser.ts';
import { backends, RP_LOGOUT, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization, submitLogin } from '../support/rp.ts';

const backend = backends[0]!;

describe(`the pages a person meets outside an application (${backend})`, () => {
  let idp: TestIdp;
  let config: oidc.Configuration;
  let counter = 0;

  /** A new person signed in through the web app in a browser of their own. */
  async function signedInPerson() {
    counter += 1;
    const email = `robin${counter}@example.com`;
    const password = `robin password ${counter} long`;
    await idp.idp.accounts.createAccount({ email, password, emailVerified: true });
    const browser = newBrowser();
    const start = await startAuthorization(config);
    const tokens = await exchangeCode(config, await signIn(browser, start.url, { email, password }), start);
    return { email, password, browser, tokens };
  }

  beforeAll(async () => {
    idp = await startTestIdp({ backend, env: { PRODUCT_NAME: 'Acme Sign-in' } });
    config = await relyingParty(idp.issuer, webAppClient);
  });
  afterAll(async () => {
    await idp?.destroy();
  });

  it('greets whoever opens the server’s address with the product name and the ways on', async () => {
    const home = await new Browser().open(`${idp.issuer}/`);
    expect(home.status).toBe(200);
    expect(home.$('h1').text()).toBe('Acme Sign-in');
    expect(home.$('title').text()).toContain('Acme Sign-in');
    expect(home.$('a[href="/account"]').text()).toBe('Your account');
    expect(home.$('a[href="/admin"]').text()).toBe('Admin console');
    const discovery = home.$(`a[href="${idp.issuer}/.well-known/openid-configuration"]`);
    expect(discovery.text()).toBe('OpenID Connect discovery document');
    const document = await fetch(discovery.attr('href')!);
    expect(((await document.json()) as { issuer: string }).issuer).toBe(idp.issuer);
  });

  it('speaks German to a German browser', async () => {
    const browser = new Browser();
    browser.acceptLanguage = 'de';
    expect((await browser.open(`${idp.issuer}/`)).$('a[href="/account"]').text()).toBe('Ihr Konto');
  });

  it('answers HEAD too', async () => {
    const response = await fetch(`${idp.issuer}/`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
  });

  it('asks to sign out of the product by name, not of a host and port', async () => {
    const person = await signedInPerson();
    const logout = oidc.buildEndSessionUrl(config, { id_token_hint: person.tokens.id_token!, post_logout_redirect_uri: RP_LOGOUT });
    const confirm = await person.browser.open(logout.href);
    expect(confirm.$('h1').text()).toBe('Sign out of Acme Sign-in?');
    expect(confirm.$('main').text()).not.toContain(new URL(idp.issuer).host);
  });

  it('says on the consent page which account is signed in', async () => {
    const email = 'sam@example.com';
    const password = 'sam password long enough';
    await idp.idp.accounts.createAccount({ email, password, emailVerified: true });
    const browser = newBrowser();
    const login = await browser.navigate((await startAuthorization(config)).url.href);
    const consent = (await submitLogin(browser, login.page!, email, password)).page!;
    expect(consent.$('form[action$="/confirm"]')).toHaveLength(1);
    expect(consent.$('.signed-in-as').text()).toBe('Signed in as sam@example.com');
    expect(consent.$('.signed-in-as strong').text()).toBe(email);
  });
});
