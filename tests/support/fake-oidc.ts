import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import Koa from 'koa';
import mount from 'koa-mount';
import Provider, { type ClientMetadata, type KoaContextWithOIDC } from 'oidc-provider';

export interface OidcAccount {
  email: string;
  email_verified: boolean;
  name?: string;
  given_name?: string;
  family_name?: string;
  picture?: string;
  hd?: string;
}

export interface FakeOidcOptions {
  clientId: string;
  /** `client_secret_post` with this secret, or `private_key_jwt` with `clientJwks`. */
  clientSecret?: string;
  /** The public keys of the IdP's `private_key_jwt` client authentication. */
  clientJwks?: { keys: Record<string, unknown>[] };
  /** Cookie names of their own: browsers share cookies between ports of one host. */
  cookiePrefix: string;
}

/**
 * An OpenID provider (Google, or any other), played by a second node-oidc-provider on loopback. It
 * answers discovery from the start (the IdP checks every issuer as it starts); `register` gives it the
 * IdP's redirect URI. It signs in whichever account the test chose, consents automatically, and can be
 * told to deny, to answer with a tampered (but validly signed) ID token, or to be unreachable.
 */
export async function startFakeOidc(options: FakeOidcOptions) {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: `fake-${options.cookiePrefix}` };

  const cookieKeys = ['fake-oidc-cookie-key-0123456789abcdef'];
  const accounts = new Map<string, OidcAccount>();
  let nextSubject: string | undefined;
  let denyNext = false;
  let tamper: ((claims: JWTPayload) => JWTPayload) | undefined;
  let handler: ReturnType<Koa['callback']> | undefined;
  server.on('request', (req, res) => (handler ? handler(req, res) : void res.writeHead(503).end()));

  const fake = {
    issuer,
    clientId: options.clientId,
    clientSecret: options.clientSecret ?? '',
    addAccount(subject: string, account: OidcAccount) {
      accounts.set(subject, account);
    },
    /** The account the next authorization signs in as. */
    signInAs(subject: string) {
      nextSubject = subject;
      denyNext = false;
    },
    /** The next authorization ends with error=access_denied, as when the person cancels at the provider. */
    denyNext() {
      denyNext = true;
    },
    /** Rewrites the claims of ID tokens (re-signed with the provider's key) until called with undefined. */
    tamperIdTokens(rewrite: ((claims: JWTPayload) => JWTPayload) | undefined) {
      tamper = rewrite;
    },
    /** Starts answering requests, for a client whose redirect URI is the IdP's callback. */
    register(redirectUri: string) {
      const client: ClientMetadata = options.clientJwks
        ? { client_id: fake.clientId, token_endpoint_auth_method: 'private_key_jwt', jwks: options.clientJwks as ClientMetadata['jwks'] }
        : { client_id: fake.clientId, client_secret: fake.clientSecret, token_endpoint_auth_method: 'client_secret_post' };
      const provider = new Provider(issuer, {
        clients: [{ ...client, redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'] }],
        jwks: { keys: [jwk] },
        // Google puts email claims in the ID token.
        conformIdTokenClaims: false,
        claims: { openid: ['sub'], email: ['email', 'email_verified', 'hd'], profile: ['name', 'given_name', 'family_name', 'picture'] },
        // Distinct names: browsers share cookies between ports of one host.
        cookies: { keys: cookieKeys, names: { session: `${options.cookiePrefix}_session`, interaction: `${options.cookiePrefix}_interaction`, resume: `${options.cookiePrefix}_resume` } },
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
      handler = app.callback();
    },
    /** The provider goes away: connections to it are refused. */
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  // Discovery and keys answer before the IdP (whose address the redirect URI needs) has started.
  fake.register('http://127.0.0.1:9/not-registered-yet');
  return fake;
}

export type FakeOidc = Awaited<ReturnType<typeof startFakeOidc>>;
