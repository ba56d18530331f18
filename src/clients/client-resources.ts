import type { ResourceServer } from './resource-servers.ts';

/**
 * Client metadata `allowed_resources`: the APIs (resource indicators) a client may obtain tokens
 * for, each with the scopes it may ask for there. A client without it obtains tokens for no API.
 */
export type AllowedResources = Record<string, string[]>;

export class AllowedResourcesError extends Error {}

/** Checks the shape of `allowed_resources` and that it names only APIs we know, with their scopes. */
export function checkAllowedResources(value: unknown, servers: ReadonlyMap<string, ResourceServer>): void {
  if (value === undefined) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AllowedResourcesError('allowed_resources must be an object of resource indicator to a list of scopes');
  }
  for (const [indicator, scopes] of Object.entries(value)) {
    const server = servers.get(indicator);
    if (!server) throw new AllowedResourcesError(`allowed_resources names an unknown resource server: ${indicator}`);
    if (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string')) {
      throw new AllowedResourcesError(`allowed_resources["${indicator}"] must be a list of scopes`);
    }
    const unknown = scopes.find((scope) => !server.scopes.includes(scope));
    if (unknown !== undefined) throw new AllowedResourcesError(`allowed_resources["${indicator}"]: ${unknown} is not a scope of that resource server`);
  }
}

const allowedResourcesOf = (client: object): AllowedResources =>
  ((client as { allowed_resources?: AllowedResources }).allowed_resources ?? {}) as AllowedResources;

/** The scopes of `server` this client may obtain; empty when its registration does not name the server. */
export function allowedScopes(client: object | undefined, server: ResourceServer): string[] {
  if (!client) return [];
  const allowed = allowedResourcesOf(client)[server.indicator] ?? [];
  return server.scopes.filter((scope) => allowed.includes(scope));
}

/**
 * What in a client registration only a super admin may grant: `first_party` (no consent page) and
 * access to a privileged API (the admin API).
 */
export function privilegesOf(metadata: Record<string, unknown>, servers: ReadonlyMap<string, ResourceServer>): string[] {
  const privileges = metadata.first_party === true ? ['first_party'] : [];
  for (const indicator of Object.keys(allowedResourcesOf(metadata))) {
    if (servers.get(indicator)?.privileged) privileges.push(`allowed_resources:${indicator}`);
  }
  return privileges;
}
