import { lookup } from 'node:dns/promises';

import { addressRefusal, hostRefusal } from '../clients/index.ts';

/** An outgoing request to a destination the IdP does not call (SSRF). */
export class RefusedDestinationError extends Error {}

/**
 * node-oidc-provider's outgoing requests (client JWKS, back-channel logout, sector identifier,
 * request URIs) meet the rules of registration again at fetch time: the host, and every address
 * its name resolves to now, must be allowed (src/oidc/client-uris.ts).
 * In production node-oidc-provider's own dispatcher stays: it checks the address actually
 * connected to, so a name that resolves differently a moment later (DNS rebinding) gains nothing.
 * With ALLOW_PRIVATE_NETWORK_REQUESTS that dispatcher would refuse loopback, so only our checks apply.
 */
export function guardedFetch(allowPrivateNetwork: boolean) {
  return async (input: string | URL | Request, options?: RequestInit): Promise<Response> => {
    const init = (options ?? {}) as RequestInit & { dispatcher?: unknown };
    const target = new URL(input instanceof Request ? input.url : String(input));
    if (target.username || target.password) throw new RefusedDestinationError('URIs with a user name or password are not called');
    const refusal = hostRefusal(target.hostname, allowPrivateNetwork) ?? (await resolvedRefusal(target.hostname, allowPrivateNetwork));
    if (refusal) throw new RefusedDestinationError(`${target.hostname} is ${refusal}, which the IdP does not call`);
    if (!allowPrivateNetwork) return fetch(input, init);
    const { dispatcher: _refusesLoopback, ...rest } = init;
    return fetch(input, rest);
  };
}

async function resolvedRefusal(hostname: string, allowPrivateNetwork: boolean): Promise<string | undefined> {
  const addresses = await lookup(hostname.replace(/^\[|\]$/g, ''), { all: true });
  for (const { address } of addresses) {
    const refusal = addressRefusal(address, allowPrivateNetwork);
    if (refusal) return refusal;
  }
  return undefined;
}
