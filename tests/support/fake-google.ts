import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import Koa from 'koa';
import mount from 'koa-mount';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';

export interface GoogleAccount {
  email: string;
  email_verified: boolean;
  name?: string;
  given_name?: string;
  family_name?: string;
  picture?: string;
  hd?: string;
}

/**
 * Google, played by a second node-oidc-provider on loopback. It signs in whichever account the
 * test chose, consents automatically, and can be told to deny, to answer with a tampered (but
 * validly signed) ID token, or to be unreachable.
 */
export async function startFakeGoogle() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'fake-google' };

  const cookieKeys = ['fake-google-cookie-key-0123456789abcdef'];
  const accounts = new Map<string, GoogleAccount>();
  let nextSubject: string | undefined;
  let denyNext = false;
  let tamper: ((claims: JWTPayload) => JWTPayload) | undefined;

  const fake = {
    issuer,
    clientId: 'idp.apps.googleusercontent.test',
    clientSecret: 'fake-google-client-secret',
    addAccount(subject: string, account: GoogleAccount) {
      accounts.set(subject, account);
    },
    /** The account the next authorization signs in as. */
    signInAs(subject: string) {
      nextSubject = subject;
      denyNext = false;
    },
    /** The next authorization ends with error=access_denied, as when the person cancels at Google. */
    denyNext() {
      denyNext = true;
    },
    /** Rewrites the claims of ID tokens (re-signed with Google's key) until called with undefined. */
    tamperIdTokens(rewrite: ((claims: JWTPayload) => JWTPayload) | undefined) {
      tamper = rewrite;
    },
    /** Starts answering requests, for a client whose redirect URI is the IdP's callback. */
    register(redirectUri: string) {
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: fake.clientId,
            client_secret: fake.clientSecret,
            redirect_uris: [redirectUri],
            grant_types: ['authorization_code'],
            response_types: ['code'],
            token_endpoint_auth_method: 'client_secret_post',
          },
        ],
        jwks: { keys: [jwk] },
        // Google puts email claims in the ID token.
        conformIdTokenClaims: false,
        claims: { openid: ['sub'], email: ['email', 'email_verified', 'hd'], profile: ['name', 'given_name', 'family_name', 'picture'] },
        // Distinct names: browsers share cookies between ports of one host.
        cookies: { keys: cookieKeys, names: { session: 'g_session', interaction: 'g_interaction', resume: 'g_resume' } },
        features: { devInteractions: { enabled: false } },
        interactions: { url: (_ctx, interaction) => `/fake-login/${interaction.uid}` },
        async findAccount(_ctx, sub) {
          const account = accounts.get(sub);
          return account ? { accountId: sub, claims: async () => ({ sub, ...account }) } : undefined;
        },
        async loadExistingGrant(ctx: KoaContextWithOIDC) {
          const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
          grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
          await grant.save();
          return grant;
        },
      });

      // Mounted, the provider signs cookies with the host's keys: they must be the same.
      const app = new Koa({ keys: cookieKeys });
      app.use(async (ctx, next) => {
        // Google accepts prompt=select_account; node-oidc-provider knows no such prompt.
        if (ctx.path === '/auth' && ctx.query.prompt === 'select_account') {
          const { prompt: _prompt, ...rest } = ctx.query;
          ctx.query = rest;
        }
        return next();
      });
      app.use(async (ctx, next) => {
        const match = /^\/fake-login\/([^/]+)$/.exec(ctx.path);
        if (!match) return next();
        await provider.interactionDetails(ctx.req, ctx.res);
        const result = denyNext
          ? { error: 'access_denied', error_description: 'The user denied access' }
          : { login: { accountId: nextSubject! } };
        denyNext = false;
        await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
      });
      app.use(async (ctx, next) => {
        await next();
        const body = ctx.body as { id_token?: string } | undefined;
        if (tamper && ctx.path === '/token' && body?.id_token) {
          const claims = tamper(decodeJwt(body.id_token));
          body.id_token = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: jwk.kid }).sign(privateKey);
        }
      });
      app.use(mount(provider));
      server.on('request', app.callback());
    },
    /** Google goes away: connections to it are refused. */
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return fake;
}

export type FakeGoogle = Awaited<ReturnType<typeof startFakeGoogle>>;
