import type { FederatedProfile } from '../accounts/index.ts';
import type { ProviderSettings } from './provider-settings.ts';

/** The provider did not answer (discovery, token, keys or API): nothing the person did wrong. */
export class UpstreamUnavailableError extends Error {
  constructor(
    /** The provider's display name, for the person's page. */
    readonly providerName: string,
    detail: string,
  ) {
    super(detail);
  }
}

/**
 * The provider's answer cannot be trusted or used: an error response, a state or nonce that does not
 * match, an ID token for another audience or issuer, expired, or of a domain or tenant not allowed here.
 */
export class UpstreamSignInError extends Error {
  constructor(
    readonly providerName: string,
    readonly reason: 'cancelled' | 'refused' | 'invalid' | 'hosted-domain',
    detail: string,
  ) {
    super(detail);
  }
}

/** The one-time values of one authorization request, kept in a signed cookie until the provider answers. */
export interface UpstreamChecks {
  state: string;
  nonce: string;
  verifier: string;
}

/** Who the person is at the provider, and when they signed in there (when it says). */
export type UpstreamProfile = FederatedProfile & { authTime: number | undefined };

export type UpstreamType = 'oidc' | 'github' | 'microsoft';

/** One upstream identity provider, whatever its protocol. */
export interface UpstreamProvider {
  readonly id: string;
  readonly name: string;
  readonly type: UpstreamType;
  readonly icon: string | undefined;
  /** Email domains whose people this provider signs in (home-realm discovery). */
  readonly domains: readonly string[];
  /** Password sign-in is refused for `domains`. */
  readonly enforce: boolean;
  /** It can be asked to sign the person in again and says when (`auth_time`): it can confirm it is them. */
  readonly reauthenticates: boolean;
  /** Fetches what the provider publishes (discovery, keys); an `UpstreamUnavailableError` when it does not answer. */
  ready(): Promise<void>;
  /** `reauthenticate`: the provider must sign the person in again and, where it can, say when. */
  start(options?: { reauthenticate?: boolean; loginHint?: string }): Promise<{ url: URL; checks: UpstreamChecks }>;
  /** Validates the provider's answer (the query string it sent to our redirect URI). */
  finish(search: string, checks: UpstreamChecks): Promise<UpstreamProfile>;
}

export const isNetworkFailure = (error: unknown) =>
  error instanceof TypeError || (error instanceof Error && /timeout|abort|ECONNREFUSED|fetch failed/i.test(`${error.name} ${error.message}`));

/** Words of a provider's answer for the log: text only, short. */
export const textOf = (value: unknown) => (typeof value === 'string' && value ? value : undefined);

/** An email address's domain, lower case. */
export const domainOf = (email: string) => email.slice(email.lastIndexOf('@') + 1).toLowerCase();

/** What every provider is, whatever its protocol: the settings each entry has, its type, and whether it can re-authenticate. */
export const descriptionOf = (settings: ProviderSettings, reauthenticates: boolean) => ({
  id: settings.id,
  name: settings.name,
  type: settings.type,
  icon: settings.icon,
  domains: settings.domains,
  enforce: settings.enforce,
  reauthenticates,
});

/**
 * openid-client, loaded when this node first acts as a relying party (an upstream sign-in, the admin console's
 * own sign-in): a node that never does holds none of it.
 */
export const openidClient = () => import('openid-client');

/** New one-time values for an authorization request (no nonce where the protocol has no ID token) and the PKCE challenge to send. */
export async function newChecks(options: { nonce: boolean }): Promise<{ checks: UpstreamChecks; codeChallenge: string }> {
  const oidc = await openidClient();
  const checks = { state: oidc.randomState(), nonce: options.nonce ? oidc.randomNonce() : '', verifier: oidc.randomPKCECodeVerifier() };
  return { checks, codeChallenge: await oidc.calculatePKCECodeChallenge(checks.verifier) };
}
