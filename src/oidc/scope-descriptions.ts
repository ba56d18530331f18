import { message, type Message } from '../views/index.ts';

const described = new Set(['openid', 'profile', 'email', 'roles', 'offline_access', 'account']);

/** Human words for the scopes on the consent page (scopes.<name> in the catalogue); unknown scopes are shown by name. */
export function describeScopes(scopes: string[]): Message[] {
  return scopes.map((scope) => (described.has(scope) ? `scopes.${scope}` : message('scopes.unknown', { scope })));
}
