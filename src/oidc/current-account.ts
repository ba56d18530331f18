import type { Context } from 'koa';
import type Provider from 'oidc-provider';

/** The account signed in to the IdP in this browser (node-oidc-provider's session), if any. */
export async function currentAccountId(provider: Provider, ctx: Context): Promise<string | undefined> {
  const sessionId = ctx.cookies.get(provider.cookieName('session'), { signed: true });
  if (!sessionId) return undefined;
  const session = await provider.Session.find(sessionId);
  return session?.accountId ?? undefined;
}
