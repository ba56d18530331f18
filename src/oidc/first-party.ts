import type { Client } from 'oidc-provider';

/**
 * Whether the client is one of our own apps (`first_party: true`, our client metadata): it is not
 * asked for consent, except for a privileged API. node-oidc-provider's types do not know our metadata.
 */
export function isFirstParty(client: Client | undefined): boolean {
  return (client as unknown as { first_party?: boolean } | undefined)?.first_party === true;
}
