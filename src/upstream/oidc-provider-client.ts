import { importJWK } from 'jose';
import type * as OpenId from 'openid-client';

import type { OidcSettings } from './provider-settings.ts';
import {
  descriptionOf,
  domainOf,
  isNetworkFailure,
  textOf,
  type UpstreamChecks,
  type UpstreamProfile,
  type UpstreamProvider,
  UpstreamSignInError,
  UpstreamUnavailableError,
  newChecks,
  openidClient,
} from './upstream-provider.ts';

async function clientAuth(settings: OidcSettings): Promise<OpenId.ClientAuth> {
  const oidc = await openidClient();
  if (settings.client_secret) return oidc.ClientSecretPost(settings.client_secret);
  const jwk = settings.private_key_jwt!;
  const alg = typeof jwk.alg === 'string' ? jwk.alg : jwk.kty === 'EC' ? 'ES256' : 'RS256';
  const key = await importJWK(jwk as Parameters<typeof importJWK>[0], alg);
  return oidc.PrivateKeyJwt({ key: key as OpenId.CryptoKey, kid: typeof jwk.kid === 'string' ? jwk.kid : undefined });
}

/**
 * Any OpenID provider (Google, Okta, GitLab, Keycloak, ...) as a relying party: discovery once, then
 * authorization code with PKCE, state and nonce, the ID token verified against the provider's JWKS.
 */
export function createOidcProviderClient(settings: OidcSettings, redirectUri: string): UpstreamProvider {
  const name = settings.name;
  let configuration: Promise<OpenId.Configuration> | undefined;

  function discover(): Promise<OpenId.Configuration> {
    configuration ??= Promise.all([clientAuth(settings), openidClient()])
      .then(([auth, oidc]) =>
        oidc.discovery(new URL(settings.issuer), settings.client_id, settings.client_secret, auth, {
          timeout: 5,
          // Only a test's fake provider runs on plain http; production refuses such an issuer.
          execute: settings.issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
        }),
      )
      .catch((error: unknown) => {
        configuration = undefined;
        throw new UpstreamUnavailableError(name, `${name} discovery failed: ${(error as Error).message}`);
      });
    return configuration;
  }

  const claim = (claims: Record<string, unknown>, key: string) => textOf(claims[key]);

  return {
    ...descriptionOf(settings, true),

    async ready() {
      await discover();
    },

    async start(options = {}) {
      const [config, oidc] = await Promise.all([discover(), openidClient()]);
      const { checks, codeChallenge } = await newChecks({ nonce: true });
      const google = settings.id === 'google';
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: settings.scopes.join(' '),
        state: checks.state,
        nonce: checks.nonce,
        code_challenge: codeChallenge,
        code_challenge_method: 'S256',
        ...(options.reauthenticate ? { prompt: 'login', max_age: '0' } : google ? { prompt: 'select_account' } : {}),
        ...(options.loginHint ? { login_hint: options.loginHint } : {}),
        ...(settings.hosted_domain ? { hd: settings.hosted_domain } : {}),
      });
      return { url, checks };
    },

    async finish(search: string, checks: UpstreamChecks): Promise<UpstreamProfile> {
      const [config, oidc] = await Promise.all([discover(), openidClient()]);
      // The token request must name the redirect URI the provider sent the answer to.
      const callback = new URL(redirectUri);
      callback.search = search;
      let tokens: Awaited<ReturnType<typeof OpenId.authorizationCodeGrant>>;
      try {
        tokens = await oidc.authorizationCodeGrant(config, callback, {
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          pkceCodeVerifier: checks.verifier,
          idTokenExpected: true,
        });
      } catch (error) {
        if (error instanceof oidc.AuthorizationResponseError) {
          const cancelled = error.error === 'access_denied';
          throw new UpstreamSignInError(name, cancelled ? 'cancelled' : 'refused', `${name} answered ${error.error}`);
        }
        if (isNetworkFailure(error)) throw new UpstreamUnavailableError(name, `${name} token request failed: ${(error as Error).message}`);
        const answered = error instanceof oidc.ResponseBodyError ? ` (${error.error}: ${error.error_description ?? ''})` : '';
        const cause = (error as Error).cause instanceof Error ? `: ${((error as Error).cause as Error).message}` : '';
        throw new UpstreamSignInError(name, 'invalid', `${(error as Error).message}${cause}${answered}`);
      }

      const claims = tokens.claims()!;
      if (settings.hosted_domain && String(claims.hd ?? '').toLowerCase() !== settings.hosted_domain) {
        throw new UpstreamSignInError(name, 'hosted-domain', `Workspace domain ${String(claims.hd ?? 'none')} is not ${settings.hosted_domain}`);
      }
      // Some providers put these in the ID token; ask userinfo only when it did not.
      let info: Record<string, unknown> = claims;
      if (typeof claims[settings.claims.email] !== 'string') {
        try {
          info = { ...(await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)), ...claims };
        } catch (error) {
          if (isNetworkFailure(error)) throw new UpstreamUnavailableError(name, `${name} userinfo failed: ${(error as Error).message}`);
          throw new UpstreamSignInError(name, 'invalid', `${name} userinfo: ${(error as Error).message}`);
        }
      }
      const email = claim(info, settings.claims.email);
      if (!email || !email.includes('@')) throw new UpstreamSignInError(name, 'invalid', `${name} gave no email address`);
      if (settings.allowed_domains && !settings.allowed_domains.includes(domainOf(email))) {
        throw new UpstreamSignInError(name, 'hosted-domain', `${name}: email domain ${domainOf(email)} is not allowed`);
      }
      const verified = settings.claims.email_verified;
      return {
        provider: settings.id,
        subject: claims.sub,
        email,
        emailVerified: verified === 'always' || (verified === 'claim' && info.email_verified === true),
        name: claim(info, settings.claims.name),
        givenName: claim(info, 'given_name'),
        familyName: claim(info, 'family_name'),
        picture: claim(info, settings.claims.picture),
        locale: claim(info, 'locale'),
        authTime: typeof claims.auth_time === 'number' ? claims.auth_time : undefined,
      };
    },
  };
}
