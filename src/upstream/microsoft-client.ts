import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';

import type { MicrosoftSettings } from './provider-settings.ts';
import { authorizationCode, upstreamJson } from './upstream-http.ts';
import {
  descriptionOf,
  isNetworkFailure,
  textOf,
  type UpstreamChecks,
  type UpstreamProfile,
  type UpstreamProvider,
  UpstreamSignInError,
  UpstreamUnavailableError,
  newChecks,
} from './upstream-provider.ts';

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
}

/**
 * Microsoft Entra ID, multi-tenant (`common`, `organizations`) or one tenant. Its discovery document
 * names the issuer as `https://login.microsoftonline.com/{tenantid}/v2.0`: a generic client would
 * refuse every token, so the ID token is checked here as Microsoft documents it, its `iss` being that
 * template with the token's own `tid`, its signature one of the keys Microsoft publishes.
 *
 * Entra's `email` claim is not verified by Microsoft (any tenant admin can set it, the "nOAuth" takeover):
 * an address counts as verified only when the token says its domain is verified for the tenant
 * (`xms_edov`, an optional claim the app registration adds). Without it, the linking policy treats the
 * address as unverified: it neither creates nor links an account, and only identities linked from the
 * account page sign in.
 */
export function createMicrosoftClient(settings: MicrosoftSettings, redirectUri: string): UpstreamProvider {
  const name = settings.name;
  const discoveryUrl = `${settings.authority.replace(/\/$/, '')}/${settings.tenant}/v2.0/.well-known/openid-configuration`;
  let discovered: Promise<{ metadata: Discovery; keys: ReturnType<typeof createRemoteJWKSet> }> | undefined;

  function discover() {
    discovered ??= upstreamJson(name, 'discovery', discoveryUrl)
      .then((body) => {
        const metadata = body as Partial<Discovery>;
        for (const field of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
          if (typeof metadata[field] !== 'string') throw new UpstreamUnavailableError(name, `${name} discovery has no ${field}`);
        }
        return { metadata: metadata as Discovery, keys: createRemoteJWKSet(new URL(metadata.jwks_uri!), { timeoutDuration: 5000 }) };
      })
      .catch((error: unknown) => {
        discovered = undefined;
        throw error instanceof UpstreamUnavailableError ? error : new UpstreamUnavailableError(name, `${name} discovery failed: ${(error as Error).message}`);
      });
    return discovered;
  }

  async function verifyIdToken(idToken: string, nonce: string, metadata: Discovery, keys: ReturnType<typeof createRemoteJWKSet>) {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(idToken, keys, { audience: settings.client_id, algorithms: ['RS256'], clockTolerance: 5, requiredClaims: ['iss', 'sub', 'exp', 'iat', 'tid'] }));
    } catch (error) {
      if (error instanceof joseErrors.JWKSTimeout || isNetworkFailure(error)) throw new UpstreamUnavailableError(name, `${name} keys: ${(error as Error).message}`);
      const claim = error instanceof joseErrors.JWTClaimValidationFailed ? ` ("${error.claim}")` : '';
      throw new UpstreamSignInError(name, 'invalid', `${name} ID token refused${claim}: ${(error as Error).message}`);
    }
    const tid = String(payload.tid).toLowerCase();
    if (!/^[0-9a-f-]{36}$/.test(tid)) throw new UpstreamSignInError(name, 'invalid', `${name} ID token: "tid" is not a tenant id`);
    const expectedIssuer = metadata.issuer.replace('{tenantid}', tid);
    if (payload.iss !== expectedIssuer) throw new UpstreamSignInError(name, 'invalid', `${name} ID token: unexpected "iss" ${String(payload.iss)} for tenant ${tid}`);
    if (payload.nonce !== nonce) throw new UpstreamSignInError(name, 'invalid', `${name} ID token: unexpected "nonce"`);
    if (settings.allowed_tenants && !settings.allowed_tenants.includes(tid)) {
      throw new UpstreamSignInError(name, 'hosted-domain', `${name}: tenant ${tid} is not allowed`);
    }
    return { ...payload, tid } as Record<string, unknown> & { tid: string };
  }

  return {
    ...descriptionOf(settings, true),

    async ready() {
      await discover();
    },

    async start(options = {}) {
      const { metadata } = await discover();
      const { checks, codeChallenge } = await newChecks({ nonce: true });
      const url = new URL(metadata.authorization_endpoint);
      url.search = new URLSearchParams({
        client_id: settings.client_id,
        response_type: 'code',
        redirect_uri: redirectUri,
        response_mode: 'query',
        scope: 'openid email profile',
        state: checks.state,
        nonce: checks.nonce,
        code_challenge: codeChallenge,
        code_challenge_method: 'S256',
        ...(options.reauthenticate ? { prompt: 'login', max_age: '0' } : { prompt: 'select_account' }),
        ...(options.loginHint ? { login_hint: options.loginHint } : {}),
      }).toString();
      return { url, checks };
    },

    async finish(search: string, checks: UpstreamChecks): Promise<UpstreamProfile> {
      const { metadata, keys } = await discover();
      const code = authorizationCode(name, search, checks.state);

      const tokens = (await upstreamJson(name, 'token request', metadata.token_endpoint, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: settings.client_id,
          client_secret: settings.client_secret,
          code,
          redirect_uri: redirectUri,
          code_verifier: checks.verifier,
        }),
      })) as Record<string, unknown>;
      const idToken = textOf(tokens.id_token);
      if (!idToken) throw new UpstreamSignInError(name, 'invalid', `${name} token response has no ID token`);
      const claims = await verifyIdToken(idToken, checks.nonce, metadata, keys);

      const email = textOf(claims.email);
      if (!email || !email.includes('@')) throw new UpstreamSignInError(name, 'invalid', `${name} gave no email address (add the "email" optional claim)`);
      // `oid` names the person across all apps of the tenant, `sub` only in this app registration.
      const oid = textOf(claims.oid);
      return {
        provider: settings.id,
        subject: oid ? `${claims.tid}:${oid}` : String(claims.sub),
        email,
        emailVerified: claims.xms_edov === true || claims.xms_edov === 1 || claims.xms_edov === '1' || claims.xms_edov === 'true',
        name: textOf(claims.name),
        givenName: textOf(claims.given_name),
        familyName: textOf(claims.family_name),
        authTime: typeof claims.auth_time === 'number' ? claims.auth_time : undefined,
      };
    },
  };
}
