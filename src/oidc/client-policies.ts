import type { Client, KoaContextWithOIDC } from 'oidc-provider';

import type { ResourceServer } from '../clients/index.ts';

/**
 * PKCE for every code-flow client (RFC 9700, section 2.1.1). A legacy confidential client may be
 * registered with `pkce_optional: true`; a public client never can (its metadata is refused).
 */
export function pkceRequired(_ctx: KoaContextWithOIDC, client: Client): boolean {
  const optedOut = (client as unknown as { pkce_optional?: boolean }).pkce_optional === true;
  return !(optedOut && client.clientAuthMethod !== 'none');
}

interface IntrospectedToken {
  clientId?: string;
  kind?: string;
  aud?: string | string[];
}

/**
 * Who may learn about a token at the introspection endpoint: the client it was issued to, or a
 * client a resource server of the token's audience names in `introspectionClients`. Anyone
 * else is answered `active: false`.
 */
export function introspectionPolicy(resourceServers: ResourceServer[]) {
  const introspectors = new Map(resourceServers.map((server) => [server.indicator, new Set(server.introspectionClients ?? [])]));
  return async (_ctx: KoaContextWithOIDC, client: Client, token: IntrospectedToken): Promise<boolean> => {
    if (token.clientId === client.clientId) return true;
    // Refresh tokens are for their client alone; an API sees only access tokens meant for it.
    if (token.kind !== 'AccessToken' && token.kind !== 'ClientCredentials') return false;
    const audiences = typeof token.aud === 'string' ? [token.aud] : (token.aud ?? []);
    return audiences.some((audience) => introspectors.get(audience)?.has(client.clientId) === true);
  };
}
