import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';

import { formOf, s256 } from './request-body.ts';

export interface GithubUser {
  id: number;
  login: string;
  name?: string;
  avatar_url?: string;
  emails: { email: string; primary: boolean; verified: boolean }[];
}

/**
 * GitHub's OAuth app flow on loopback, as a small Koa app: /login/oauth/authorize (signs in the user the
 * test chose, or denies), /login/oauth/access_token (checks the secret and the PKCE verifier), and the API
 * under /api: /user and /user/emails. It can be told to answer the token request with garbage, or the
 * API with errors.
 */
export async function startFakeGithub() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const users = new Map<number, GithubUser>();
  const codes = new Map<string, { userId: number; challenge: string; redirectUri: string }>();
  const tokens = new Map<string, number>();
  let nextUser: number | undefined;
  let denyNext = false;
  let failure: 'garbage-token' | 'api-down' | undefined;

  const fake = {
    origin,
    /** What the IdP's entry names: `github_url` and `api_url`. */
    githubUrl: origin,
    apiUrl: `${origin}/api`,
    clientId: 'fake-github-client-id',
    clientSecret: 'fake-github-client-secret',
    addUser(user: GithubUser) {
      users.set(user.id, user);
    },
    signInAs(id: number) {
      nextUser = id;
      denyNext = false;
    },
    denyNext() {
      denyNext = true;
    },
    /** `garbage-token`: the token endpoint answers an HTML page; `api-down`: the API answers 502. */
    fail(mode: typeof failure) {
      failure = mode;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };

  const app = new Koa();
  app.use(async (ctx) => {
    if (ctx.method === 'GET' && ctx.path === '/login/oauth/authorize') {
      const { client_id, redirect_uri, state, code_challenge, code_challenge_method } = ctx.query as Record<string, string>;
      if (client_id !== fake.clientId || code_challenge_method !== 'S256' || !redirect_uri) {
        ctx.status = 400;
        ctx.body = 'bad authorization request';
        return;
      }
      const back = new URL(redirect_uri);
      if (denyNext) {
        denyNext = false;
        back.search = new URLSearchParams({ error: 'access_denied', error_description: 'The user has denied your application access.', state: state ?? '' }).toString();
      } else {
        const code = randomBytes(10).toString('hex');
        codes.set(code, { userId: nextUser!, challenge: code_challenge!, redirectUri: redirect_uri });
        back.search = new URLSearchParams({ code, state: state ?? '' }).toString();
      }
      ctx.redirect(back.href);
      return;
    }
    if (ctx.method === 'POST' && ctx.path === '/login/oauth/access_token') {
      if (failure === 'garbage-token') {
        ctx.type = 'html';
        ctx.body = '<html><body>Unicorn!</body></html>';
        return;
      }
      const form = await formOf(ctx.req);
      const grant = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const ok =
        grant &&
        form.get('client_id') === fake.clientId &&
        form.get('client_secret') === fake.clientSecret &&
        form.get('redirect_uri') === grant.redirectUri &&
        (await s256(form.get('code_verifier') ?? '')) === grant.challenge;
      // GitHub answers a bad code with 200 and an error.
      if (!ok) {
        ctx.body = { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' };
        return;
      }
      const token = `gho_${randomBytes(12).toString('hex')}`;
      tokens.set(token, grant.userId);
      ctx.body = { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' };
      return;
    }
    if (ctx.method === 'GET' && (ctx.path === '/api/user' || ctx.path === '/api/user/emails')) {
      if (failure === 'api-down') {
        ctx.status = 502;
        ctx.body = 'bad gateway';
        return;
      }
      const user = users.get(tokens.get((ctx.get('authorization') ?? '').replace(/^Bearer /, '')) ?? -1);
      if (!user) {
        ctx.status = 401;
        ctx.body = { message: 'Bad credentials' };
        return;
      }
      const { emails, ...profile } = user;
      ctx.body = ctx.path === '/api/user' ? { ...profile, email: null } : emails.map((email) => ({ ...email, visibility: null }));
      return;
    }
    ctx.status = 404;
  });
  server.on('request', app.callback());
  return fake;
}

export type FakeGithub = Awaited<ReturnType<typeof startFakeGithub>>;
