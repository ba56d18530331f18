import { createGithubClient } from './github-client.ts';
import { createMicrosoftClient } from './microsoft-client.ts';
import { createOidcProviderClient } from './oidc-provider-client.ts';
import { IdentityProvidersError, type ProviderSettings } from './provider-settings.ts';
import { domainOf, type UpstreamProvider } from './upstream-provider.ts';

/** How the ids the README suggests read when their entry is gone (an identity linked before stays listed). */
const WELL_KNOWN_NAMES = new Map([
  ['google', 'Google'],
  ['github', 'GitHub'],
  ['microsoft', 'Microsoft'],
]);

/** The one redirect URI a provider sends its answers to; what its app registration must name. */
export const upstreamRedirectUri = (issuer: string, id: string) => `${issuer}/interaction/callback/${id}`;

export function clientFor(settings: ProviderSettings, issuer: string): UpstreamProvider {
  const redirectUri = upstreamRedirectUri(issuer, settings.id);
  switch (settings.type) {
    case 'oidc':
      return createOidcProviderClient(settings, redirectUri);
    case 'github':
      return createGithubClient(settings, redirectUri);
    case 'microsoft':
      return createMicrosoftClient(settings, redirectUri);
  }
}

/**
 * The upstream identity providers this IdP offers, by id, in the order they are listed. Disabled entries
 * are not offered (identities linked through them stay, and sign in again once it is enabled).
 * `replace` swaps the whole list at once (a change made in the admin console).
 */
export function createProviderRegistry(issuer: string, entries: ProviderSettings[] = []) {
  let providers = new Map<string, UpstreamProvider>();
  /** Each offered provider's settings as they were read: an unchanged entry keeps its client (and what it discovered). */
  let settingsOf = new Map<string, string>();

  const registry = {
    replace(next: ProviderSettings[]) {
      const enabled = next.filter((entry) => entry.enabled);
      const kept = (entry: ProviderSettings, text: string) => (settingsOf.get(entry.id) === text ? providers.get(entry.id) : undefined);
      const texts = new Map(enabled.map((entry) => [entry.id, JSON.stringify(entry)]));
      providers = new Map(enabled.map((entry) => [entry.id, kept(entry, texts.get(entry.id)!) ?? clientFor(entry, issuer)]));
      settingsOf = texts;
    },
    get: (id: string): UpstreamProvider | undefined => providers.get(id),
    all: (): UpstreamProvider[] => [...providers.values()],
    /** The provider that claims this email's domain (home-realm discovery), if one does. */
    forEmail(email: string): UpstreamProvider | undefined {
      const domain = domainOf(email);
      return [...providers.values()].find((provider) => provider.domains.includes(domain));
    },
    /** The display name of a provider id, also of one no longer offered (history, linked identities). */
    nameOf: (id: string): string => providers.get(id)?.name ?? WELL_KNOWN_NAMES.get(id) ?? id,
    /** These providers answer their discovery: an unreachable issuer stops the start, naming the entry. */
    async checkReachable(ids: string[]): Promise<void> {
      for (const provider of providers.values()) {
        if (!ids.includes(provider.id)) continue;
        try {
          await provider.ready();
        } catch (error) {
          throw new IdentityProvidersError(`identity provider "${provider.id}": issuer unreachable: ${(error as Error).message}`);
        }
      }
    },
  };
  registry.replace(entries);
  return registry;
}

export type ProviderRegistry = ReturnType<typeof createProviderRegistry>;
