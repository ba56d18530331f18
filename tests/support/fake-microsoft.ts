import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import Koa from 'koa';

import { formOf, s256 } from './request-body.ts';

export interface EntraUser {
  tid: string;
  oid: string;
  email: string;
  name?: string;
  /** The optional claim saying the email's domain is verified for the tenant. */
  xms_edov?: boolean;
}

/**
 * Microsoft Entra ID's multi-tenant endpoints on loopback (`/organizations/v2.0`): its discovery names the
 * issuer `<origin>/{tenantid}/v2.0`, and each ID token's `iss` is that with the person's tenant, as
 * Microsoft's do. It signs in the user the test chose, or denies, and can rewrite ID tokens (signed with
 * its key, or with a key of nobody's).
 */
export async function startFakeMicrosoft() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const strangerKey = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(publicKey)), alg: 'RS256', use: 'sig', kid: 'fake-entra' };
  const users = new Map<string, EntraUser>();
  const codes = new Map<string, { user: EntraUser; nonce: string; challenge: string; redirectUri: string }>();
  let nextUser: string | undefined;
  let denyNext = false;
  let tamper: { rewrite: (claims: JWTPayload) => JWTPayload; foreignKey?: boolean } | undefined;

  const fake = {
    /** What the IdP's entry names as `authority`. */
    authority: origin,
    clientId: '00000000-aaaa-bbbb-cccc-000000000001',
    clientSecret: 'fake-entra-client-secret',
    tenantA: '11111111-1111-4111-8111-111111111111',
    tenantB: '22222222-2222-4222-8222-222222222222',
    addUser(key: string, user: EntraUser) {
      users.set(key, user);
    },
    signInAs(key: string) {
      nextUser = key;
      denyNext = false;
    },
    denyNext() {
      denyNext = true;
    },
    /** Rewrites the claims of ID tokens until called with undefined; `foreignKey`: signed with a key Microsoft does not publish. */
    tamperIdTokens(rewrite: ((claims: JWTPayload) => JWTPayload) | undefined, options: { foreignKey?: boolean } = {}) {
      tamper = rewrite ? { rewrite, ...options } : undefined;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };

  const app = new Koa();
  app.use(async (ctx) => {
    if (ctx.path === '/organizations/v2.0/.well-known/openid-configuration') {
      ctx.body = {
        issuer: `${origin}/{tenantid}/v2.0`,
        authorization_endpoint: `${origin}/organizations/oauth2/v2.0/authorize`,
        token_endpoint: `${origin}/organizations/oauth2/v2.0/token`,
        jwks_uri: `${origin}/organizations/discovery/v2.0/keys`,
        id_token_signing_alg_values_supported: ['RS256'],
      };
      return;
    }
    if (ctx.path === '/organizations/discovery/v2.0/keys') {
      ctx.body = { keys: [jwk] };
      return;
    }
    if (ctx.path === '/organizations/oauth2/v2.0/authorize') {
      const { client_id, redirect_uri, state, nonce, code_challenge, code_challenge_method } = ctx.query as Record<string, string>;
      if (client_id !== fake.clientId || code_challenge_method !== 'S256' || !redirect_uri || !nonce) {
        ctx.status = 400;
        ctx.body = 'AADSTS900144: bad request';
        return;
      }
      const back = new URL(redirect_uri);
      if (denyNext) {
        denyNext = false;
        back.search = new URLSearchParams({ error: 'access_denied', error_description: 'AADSTS65004: User declined to consent.', state: state ?? '' }).toString();
      } else {
        const code = randomBytes(12).toString('hex');
        codes.set(code, { user: users.get(nextUser!)!, nonce, challenge: code_challenge!, redirectUri: redirect_uri });
        back.search = new URLSearchParams({ code, state: state ?? '' }).toString();
      }
      ctx.redirect(back.href);
      return;
    }
    if (ctx.method === 'POST' && ctx.path === '/organizations/oauth2/v2.0/token') {
      const form = await formOf(ctx.req);
      const grant = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const ok =
        grant &&
        form.get('client_id') === fake.clientId &&
        form.get('client_secret') === fake.clientSecret &&
        form.get('redirect_uri') === grant.redirectUri &&
        (await s256(form.get('code_verifier') ?? '')) === grant.challenge;
      if (!ok) {
        ctx.status = 400;
        ctx.body = { error: 'invalid_grant', error_description: 'AADSTS70008: The provided authorization code is invalid.' };
        return;
      }
      const { user } = grant;
      const now = Math.floor(Date.now() / 1000);
      let claims: JWTPayload = {
        iss: `${origin}/${user.tid}/v2.0`,
        aud: fake.clientId,
        sub: randomUUID(),
        iat: now,
        nbf: now,
        exp: now + 3600,
        nonce: grant.nonce,
        tid: user.tid,
        oid: user.oid,
        email: user.email,
        name: user.name,
        ...(user.xms_edov === undefined ? {} : { xms_edov: user.xms_edov }),
      };
      if (tamper) claims = tamper.rewrite(claims);
      const idToken = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' }).sign(tamper?.foreignKey ? strangerKey : privateKey);
      ctx.body = { token_type: 'Bearer', scope: 'openid email profile', expires_in: 3600, access_token: randomBytes(16).toString('hex'), id_token: idToken };
      return;
    }
    ctx.status = 404;
  });
  server.on('request', app.callback());
  return fake;
}

export type FakeMicrosoft = Awaited<ReturnType<typeof startFakeMicrosoft>>;
