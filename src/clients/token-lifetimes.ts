import type { ResourceServer } from './resource-servers.ts';

export const MINUTE = 60;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Lifetimes in seconds of what node-oidc-provider issues (its `ttl` configuration). */
export const tokenLifetimes = {
  AccessToken: HOUR,
  AuthorizationCode: MINUTE,
  ClientCredentials: 10 * MINUTE,
  IdToken: HOUR,
  Interaction: HOUR,
  DeviceCode: 10 * MINUTE,
  Grant: 30 * DAY,
  Session: 14 * DAY,
  RefreshToken: 30 * DAY,
  /** Public clients hold refresh tokens where they are easier to steal: they get less time. */
  PublicClientRefreshToken: DAY,
} as const;

/** The longest a token we sign (ID token, JWT access token) stays valid: how long a retired key must stay published. */
export function longestSignedTokenLifetime(resourceServers: ResourceServer[]): number {
  return Math.max(tokenLifetimes.IdToken, tokenLifetimes.AccessToken, ...resourceServers.map((server) => server.accessTokenTTL));
}
