import type { KoaContextWithOIDC } from 'oidc-provider';

import type { ResourceServer } from '../clients/index.ts';
import { listOf } from './device-flow-pages.ts';

const DEVICE_ROUTES = new Set(['code_verification', 'device_resume']);

/**
 * A device asking for a privileged API (the admin API) is a phishing target: whoever holds the
 * device gets the person's admin token. Such a request needs the second factor when the account
 * has one, even in a session that was signed in with one factor.
 */
export function deviceStepUp(privileged: ResourceServer[], hasSecondFactor: (accountId: string) => Promise<boolean>) {
  const indicators = new Set(privileged.map((server) => server.indicator));
  const scopes = new Set(privileged.flatMap((server) => server.scopes));
  return async (ctx: KoaContextWithOIDC): Promise<boolean> => {
    const { oidc } = ctx;
    if (!DEVICE_ROUTES.has(oidc.route) || !oidc.session?.accountId) return false;
    const asksForPrivileged =
      listOf(oidc.params?.resource).some((indicator) => indicators.has(indicator)) ||
      String(oidc.params?.scope ?? '').split(' ').some((scope) => scopes.has(scope));
    return asksForPrivileged && (await hasSecondFactor(oidc.session.accountId));
  };
}
