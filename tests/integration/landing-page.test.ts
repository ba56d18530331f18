import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Browser } from '../support/browser.ts';
import { backends, startTestIdp, type TestIdp } from '../support/idp.ts';

const backend = backends[0]!;

describe(`landing page (${backend})`, () => {
  let idp: TestIdp;

  beforeAll(async () => {
    idp = await startTestIdp({ backend, env: { PRODUCT_NAME: 'Acme Sign-in' } });
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
});
