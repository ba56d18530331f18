import * as oidc from 'openid-client';

import type { FederatedProfile } from '../accounts/index.ts';
import type { Config } from '../config.ts';

type GoogleSettings = NonNullable<Config['google']>;

/** Google did not answer (discovery, token or keys): nothing the person did wrong. */
export class GoogleUnavailableError extends Error {}

/**
 * Google's answer cannot be trusted or used: an error response, a state or nonce that does not
 * match, an ID token for another audience or issuer, expired, or from another Workspace domain.
 */
export class GoogleSignInError extends Error {
  constructor(
    readonly reason: 'cancelled' | 'refused' | 'invalid' | 'hosted-domain',
    detail: string,
  ) {
    super(detail);
  }
}

/** The one-time values of one authorization request, kept in a signed cookie until Google answers. */
export interface GoogleChecks {
  state: string;
  nonce: string;
  verifier: string;
}

const isNetworkFailure = (error: unknown) =>
  error instanceof TypeError || (error instanceof Error && /timeout|abort|ECONNREFUSED|fetch failed/i.test(`${error.name} ${error.message}`));

/** The IdP as a relying party of Google: discovery once, then authorization code with PKCE, state and nonce. */
export function createGoogleClient(settings: GoogleSettings, redirectUri: string) {
  let configuration: Promise<oidc.Configuration> | undefined;

  function discover(): Promise<oidc.Configuration> {
    configuration ??= oidc
      .discovery(new URL(settings.issuer), settings.clientId, settings.clientSecret, oidc.ClientSecretPost(settings.clientSecret), {
        timeout: 5,
        // Only a test's fake Google runs on plain http; production refuses such an issuer.
        execute: settings.issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
      })
      .catch((error: unknown) => {
        configuration = undefined;
        throw new GoogleUnavailableError(`Google discovery failed: ${(error as Error).message}`);
      });
    return configuration;
  }

  return {
    /** `reauthenticate`: Google must sign the person in again (not reuse its session), and say when (`auth_time`). */
    async start(options: { reauthenticate?: boolean } = {}): Promise<{ url: URL; checks: GoogleChecks }> {
      const config = await discover();
      const checks = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier() };
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid email profile',
        state: checks.state,
        nonce: checks.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(checks.verifier),
        code_challenge_method: 'S256',
        ...(options.reauthenticate ? { prompt: 'login', max_age: '0' } : { prompt: 'select_account' }),
        ...(settings.hostedDomain ? { hd: settings.hostedDomain } : {}),
      });
      return { url, checks };
    },

    /**
     * Validates Google's answer (the query string it sent to our redirect URI, wherever the browser
     * was sent on to since) and returns who the person is there, and when they signed in there (if Google said).
     */
    async finish(search: string, checks: GoogleChecks): Promise<FederatedProfile & { authTime: number | undefined }> {
      const config = await discover();
      // The token request must name the redirect URI Google sent the answer to.
      const callback = new URL(redirectUri);
      callback.search = search;
      let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
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
          throw new GoogleSignInError(cancelled ? 'cancelled' : 'refused', `Google answered ${error.error}`);
        }
        if (isNetworkFailure(error)) throw new GoogleUnavailableError(`Google token request failed: ${(error as Error).message}`);
        const answered = error instanceof oidc.ResponseBodyError ? ` (${error.error}: ${error.error_description ?? ''})` : '';
        const cause = (error as Error).cause instanceof Error ? `: ${((error as Error).cause as Error).message}` : '';
        throw new GoogleSignInError('invalid', `${(error as Error).message}${cause}${answered}`);
      }

      const claims = tokens.claims()!;
      if (settings.hostedDomain && String(claims.hd ?? '').toLowerCase() !== settings.hostedDomain) {
        throw new GoogleSignInError('hosted-domain', `Workspace domain ${String(claims.hd ?? 'none')} is not ${settings.hostedDomain}`);
      }
      // Google puts these in the ID token; ask userinfo only when it did not.
      const info = typeof claims.email === 'string' ? claims : await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      if (typeof info.email !== 'string') throw new GoogleSignInError('invalid', 'Google gave no email address');
      const text = (value: unknown) => (typeof value === 'string' && value ? value : undefined);
      return {
        provider: 'google',
        subject: claims.sub,
        email: info.email,
        emailVerified: info.email_verified === true,
        name: text(info.name),
        givenName: text(info.given_name),
        familyName: text(info.family_name),
        picture: text(info.picture),
        locale: text(info.locale),
        authTime: typeof claims.auth_time === 'number' ? claims.auth_time : undefined,
      };
    },
  };
}

export type GoogleClient = ReturnType<typeof createGoogleClient>;
