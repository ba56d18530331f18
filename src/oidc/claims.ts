import type { Account } from '../accounts/index.ts';

/**
 * Which claims each scope releases (OIDC Core 5.4, plus our `roles`). `acr` and `amr` (how the
 * person signed in) come with `openid`, so that every ID token carries them, and `idp` (the upstream
 * identity provider of a federated sign-in) too, when there was one.
 */
export const scopeClaims = {
  openid: ['sub', 'acr', 'amr', 'idp'],
  email: ['email', 'email_verified'],
  profile: ['name', 'given_name', 'family_name', 'picture', 'locale', 'zoneinfo', 'updated_at'],
  roles: ['roles'],
} as const;

/**
 * Every claim we hold about an account; node-oidc-provider releases only those the grant covers.
 * `roles` undefined: not read, because nothing asked for them; `idp`: the upstream provider of the
 * sign-in (ID tokens only).
 */
export function claimsOf(account: Account, roles: string[] | undefined, idp?: string): Record<string, unknown> {
  return {
    sub: account.id,
    email: account.email,
    email_verified: account.email_verified,
    name: account.name ?? undefined,
    given_name: account.given_name ?? undefined,
    family_name: account.family_name ?? undefined,
    picture: account.picture ?? undefined,
    locale: account.locale ?? undefined,
    zoneinfo: account.zoneinfo ?? undefined,
    updated_at: Math.floor(new Date(account.updated_at).getTime() / 1000),
    roles,
    idp,
  };
}
