import type { Context } from 'koa';
import type Provider from 'oidc-provider';

/** The IdP session of this browser (node-oidc-provider's), if any: its id and the account signed in. */
export async function currentSession(provider: Provider, ctx: Context): Promise<{ sessionId: string; accountId: string } | undefined> {
  const sessionId = ctx.cookies.get(provider.cookieName('session'), { signed: true });
  if (!sessionId) return undefined;
  const session = await provider.Session.find(sessionId);
  return session?.accountId ? { sessionId, accountId: session.accountId } : undefined;
}
