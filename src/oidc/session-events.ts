import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

import type { RecordEvent } from '../webhooks/index.ts';

/** The account a provider request was about: its session's, else its token's or grant's. */
function accountOf(ctx: KoaContextWithOIDC): string | null {
  const entities = ctx.oidc.entities as Record<string, { accountId?: unknown } | undefined>;
  const id = ctx.oidc.session?.accountId ?? entities.AccessToken?.accountId ?? entities.RefreshToken?.accountId ?? entities.Grant?.accountId;
  return typeof id === 'string' ? id : null;
}

/** `session.ended` when a person signs out at the IdP, `grant.revoked` when node-oidc-provider revokes a grant. */
export function recordProviderEvents(provider: Provider, record: RecordEvent): void {
  provider.on('end_session.success', (ctx) => {
    const accountId = accountOf(ctx);
    if (!accountId) return;
    void record({ type: 'session.ended', actor: { type: 'account', id: accountId }, accountId, data: { reason: 'signed_out', client_id: ctx.oidc.client?.clientId ?? null } });
  });
  provider.on('grant.revoked', (ctx, _grantId) => {
    const accountId = accountOf(ctx);
    void record({ type: 'grant.revoked', actor: accountId ? { type: 'account', id: accountId } : { type: 'system' }, accountId, data: { client_id: ctx.oidc.client?.clientId ?? null, reason: ctx.oidc.route } });
  });
}
