import type { ResourceServer } from '../clients/index.ts';
import type { LoadedInteraction } from './interaction-loader.ts';

/**
 * Whether the sign-in that ends here carries the consent with it. Our own apps are never asked (the
 * consent step grants them without a page, and node-oidc-provider's grant loader grants what they
 * request), except for a privileged API, which always shows the consent page. Without the consent in
 * the sign-in's result, node-oidc-provider still stops a native app at a consent interaction that
 * only answers itself: two more requests per sign-in, for nothing the person sees.
 */
export function silentConsent(resourceServers: ResourceServer[]): (loaded: LoadedInteraction) => boolean {
  const privileged = new Set(resourceServers.filter((server) => server.privileged).map((server) => server.indicator));
  return ({ interaction, client }) => {
    if (!client.firstParty) return false;
    const resource = interaction.params.resource;
    const requested = resource === undefined ? [] : Array.isArray(resource) ? resource : [resource];
    return !requested.some((indicator) => privileged.has(String(indicator)));
  };
}
