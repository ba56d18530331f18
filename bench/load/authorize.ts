import { createHash, randomBytes } from 'node:crypto';
import type { Agent } from 'node:http';

import { basicAuth, REDIRECT_URI } from '../clients.ts';
import { Browser, send } from './http.ts';

export interface Person {
  email: string;
  password: string;
}

const MAX_STEPS = 12;
/** Every code flow uses PKCE (S256); the IdP's work per sign-in is the same whichever pair is sent. */
const CODE_VERIFIER = randomBytes(32).toString('base64url');
const CODE_CHALLENGE = createHash('sha256').update(CODE_VERIFIER).digest('base64url');
const formAction = (html: string, step: string) => new RegExp(`action="(/interaction/[^"]+/${step})"`).exec(html)?.[1];
const csrfToken = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1];

/**
 * One authorization request in `browser`, following redirects and filling in our sign-in and consent pages
 * when they come (the baseline's interactions answer by themselves); resolves to the authorization code.
 */
export async function authorize(
  browser: Browser,
  issuer: string,
  request: { clientId: string; scope: string; prompt?: string },
  person: Person,
): Promise<string> {
  const auth = new URL('/auth', issuer);
  auth.search = new URLSearchParams({
    client_id: request.clientId,
    response_type: 'code',
    scope: request.scope,
    redirect_uri: REDIRECT_URI,
    state: randomBytes(8).toString('hex'),
    nonce: randomBytes(8).toString('hex'),
    code_challenge: CODE_CHALLENGE,
    code_challenge_method: 'S256',
    ...(request.prompt ? { prompt: request.prompt } : {}),
  }).toString();

  let url = auth;
  let form: Record<string, string> | undefined;
  for (let step = 0; step < MAX_STEPS; step += 1) {
    const response = await browser.fetch(url, { form });
    form = undefined;
    const location = response.headers.location;
    if (response.status >= 300 && response.status < 400 && typeof location === 'string') {
      url = new URL(location, url);
      if (url.href.startsWith(REDIRECT_URI)) {
        const code = url.searchParams.get('code');
        if (!code) throw new Error(`authorization refused: ${url.searchParams.get('error')} ${url.searchParams.get('error_description')}`);
        return code;
      }
      continue;
    }
    const login = formAction(response.body, 'login');
    const confirm = formAction(response.body, 'confirm');
    const csrf = csrfToken(response.body);
    if (response.status === 200 && csrf && (login || confirm)) {
      url = new URL((login ?? confirm)!, issuer);
      form = login ? { _csrf: csrf, email: person.email, password: person.password } : { _csrf: csrf };
      continue;
    }
    throw new Error(`authorization stopped at ${url.pathname} with ${response.status}: ${response.body.slice(0, 200)}`);
  }
  throw new Error('authorization took too many steps');
}

export interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
}

export async function exchangeCode(agent: Agent, issuer: string, client: { id: string; secret: string }, code: string) {
  const response = await send(agent, new URL('/token', issuer), {
    method: 'POST',
    headers: { authorization: basicAuth(client), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: CODE_VERIFIER }).toString(),
  });
  if (response.status !== 200) throw new Error(`code exchange answered ${response.status}: ${response.body.slice(0, 200)}`);
  return JSON.parse(response.body) as TokenResponse;
}
