import type { ClientMetadata } from 'oidc-provider';
import * as oidc from 'openid-client';

import { Browser, type Page } from './browser.ts';
import { RP_LOGOUT, RP_REDIRECT } from './idp.ts';

/** Who a relying party is: a client id, with its secret when it is a confidential client. */
export type ClientCredentials = Pick<ClientMetadata, 'client_id' | 'client_secret'>;

/** A relying party built on openid-client, as a real app would use it, over plain HTTP on loopback. */
export async function relyingParty(issuer: string, { client_id: clientId, client_secret: clientSecret }: ClientCredentials) {
  return oidc.discovery(
    new URL(issuer),
    clientId,
    clientSecret,
    clientSecret ? oidc.ClientSecretBasic(clientSecret) : oidc.None(),
    { execute: [oidc.allowInsecureRequests] },
  );
}

/** The Authorization header of HTTP Basic client authentication, for requests written by hand. */
export function basicAuthorization({ client_id: clientId, client_secret: clientSecret }: ClientCredentials): string {
  return `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
}

export interface AuthorizationStart {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

export async function startAuthorization(
  config: oidc.Configuration,
  params: Record<string, string> = {},
): Promise<AuthorizationStart> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: RP_REDIRECT,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url, verifier, state, nonce };
}

export function newBrowser(): Browser {
  return new Browser([RP_REDIRECT, RP_LOGOUT]);
}

/** Fills the login page; returns where the IdP sent the browser next (a page, or back to the RP). */
export async function submitLogin(browser: Browser, page: Page, email: string, password: string) {
  return browser.submit(page, 'form[action$="/login"]', { email, password });
}

/**
 * Signs in through the pages as a person would: login, then consent when asked.
 * Returns the callback URL the RP receives.
 */
export async function signIn(
  browser: Browser,
  authorizationUrl: URL,
  credentials: { email: string; password: string },
): Promise<URL> {
  let step = await browser.navigate(authorizationUrl.href);
  for (let i = 0; i < 4 && step.page; i += 1) {
    const { page } = step;
    if (page.$('form[action$="/login"]').length) {
      step = await submitLogin(browser, page, credentials.email, credentials.password);
    } else if (page.$('form[action$="/confirm"]').length) {
      step = await browser.submit(page, 'form[action$="/confirm"]');
    } else {
      throw new Error(`unexpected page ${page.status} ${page.url}: ${page.$('h1').text()}`);
    }
  }
  if (!step.leftTo) throw new Error('sign-in did not return to the relying party');
  return step.leftTo;
}

export async function exchangeCode(config: oidc.Configuration, callback: URL, start: AuthorizationStart) {
  return oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: start.verifier,
    expectedState: start.state,
    expectedNonce: start.nonce,
  });
}
